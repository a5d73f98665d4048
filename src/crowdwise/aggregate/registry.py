"""Registry of strategy names, as used on the command line.

A strategy specification is a registered name optionally followed by parameters in
brackets: ``MV``, ``TwoThird``, ``PlantNet[theta_conf=2, theta_acc=0.7]``,
``MV[tie=smallest]``. Values are read as Python literals when they are (numbers, True,
None, quoted strings) and as plain strings otherwise. Names match case-insensitively,
and the names other libraries give the same methods (:data:`ALIASES`: peerannot's
``majority_voting``, ``dawid_skene``, ``iterativewawa``...; crowd-kit's class names
``MajorityVote``, ``DawidSkene``, ``OneCoinDawidSkene``...) name them too.
"""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ._base import Aggregator

__all__ = ["register", "get_strategy", "make_strategy", "parse_spec", "available", "aliases_of", "StrategyInfo",
           "ALIASES", "CROWDKIT_COUNTERPARTS"]

#: other names of registered strategies (lower case -> registry name): peerannot's
#: strategy names and the class names of crowd-kit's aggregators. They resolve like the
#: registry names but are not listed by :func:`available` (``crowdwise agginfo`` shows
#: them beside the strategy).
ALIASES: dict[str, str] = {
    # peerannot (its names, and the spellings of its documentation and papers)
    "majority_voting": "MV", "majority_vote": "MV", "naive_soft": "NaiveSoft",
    "dawid_skene": "DS", "dawid_skene_clust": "DSWC", "ds_clust": "DSWC", "two_third": "TwoThird",
    "iterativewawa": "IWMV", "iterative_wawa": "IWMV", "plant_net": "PlantNet",
    # crowd-kit's classification aggregators
    "majorityvote": "MV", "dawidskene": "DS", "onecoindawidskene": "OneCoinDS", "zerobasedskill": "ZBS",
    # the same method under another name
    "bcc": "IBCC",
}

#: crowd-kit's classification aggregators (crowd-kit 1.4.2) and their crowdwise strategy, or
#: why there is none (the "Coming from crowd-kit" page prints this table)
CROWDKIT_COUNTERPARTS: dict[str, str] = {
    "MajorityVote": "MV",
    "Wawa": "WAWA",
    "ZeroBasedSkill": "ZBS",
    "DawidSkene": "DS",
    "OneCoinDawidSkene": "OneCoinDS",
    "GLAD": "GLAD",
    "MACE": "MACE",
    "MMSR": "MMSR",
    "KOS": "KOS",
    "GoldMajorityVote": "none: worker accuracies from gold answers weigh the votes; in crowdwise gold labels "
                        "are given to the models that use them, fit(votes, gold={task: class}) of DS, "
                        "OneCoinDS, GLAD, DSWC",
    "HRRASA": "none: it aggregates by embeddings of the answers (texts), which crowdwise does not take",
    "BinaryRelevance": "none: multi-label aggregation (several labels per item); crowdwise aggregates "
                       "single-label classification",
}


@dataclass(frozen=True)
class StrategyInfo:
    name: str
    cls: type[Aggregator]
    defaults: dict[str, Any]
    description: str

    @property
    def rules(self) -> dict[str, str]:
        """What each parameter accepts, in words (the class's ``parameter_rules``).

        Examples
        --------
        >>> get_strategy("DS").rules["max_iter"]
        'an integer >= 1'
        """
        return {name: rule.describe() for name, rule in self.cls.all_parameter_rules().items()}


_REGISTRY: dict[str, StrategyInfo] = {}


def register(name: str | None = None, *, description: str | None = None, **defaults: Any):
    """Class decorator adding a strategy under ``name`` (default: ``cls.name``).

    ``defaults`` are parameters this name fixes (so one class can be registered under
    several names, e.g. the Pl@ntNet AI variants).
    """

    def deco(cls: type[Aggregator]) -> type[Aggregator]:
        nm = name or cls.name
        if not nm:
            raise ValueError(f"{cls.__name__} needs a registry name")
        if nm.lower() in _REGISTRY and _REGISTRY[nm.lower()].cls is not cls:
            raise ValueError(f"strategy name {nm!r} is already registered")
        desc = description or cls.description or (cls.__doc__ or "").strip().splitlines()[0]
        _REGISTRY[nm.lower()] = StrategyInfo(nm, cls, dict(defaults), desc)
        return cls

    return deco


def aliases_of(name: str) -> list[str]:
    """The aliases of a registered strategy (:data:`ALIASES`), sorted.

    >>> aliases_of("DS")
    ['dawid_skene', 'dawidskene']
    """
    return sorted(a for a, target in ALIASES.items() if target.lower() == name.lower())


def available() -> list[StrategyInfo]:
    """Every registered strategy, in registration order."""
    _ensure_loaded()
    return list(_REGISTRY.values())


_SPEC = re.compile(r"^\s*([A-Za-z_][\w\-@.]*)\s*(?:\[(.*)\])?\s*$", re.S)


def _literal(text: str) -> Any:
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        low = text.lower()
        if low in ("true", "false"):
            return low == "true"
        if low in ("none", "null"):
            return None
        return text


def _split_args(body: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in body:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur))
    return parts


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``"Name[a=1, b=x]"`` into ``("Name", {"a": 1, "b": "x"})``.

    Examples
    --------
    >>> parse_spec("PlantNet[theta_conf=2, ai=fixed]")
    ('PlantNet', {'theta_conf': 2, 'ai': 'fixed'})
    """
    m = _SPEC.match(spec)
    if not m:
        raise InputError(f"cannot read strategy {spec!r}",
                         fix="write NAME or NAME[param=value, ...], e.g. MV or PlantNet[theta_conf=2]")
    name, body = m.group(1), m.group(2)
    params: dict[str, Any] = {}
    if body and body.strip():
        for part in _split_args(body):
            if "=" not in part:
                raise InputError(f"parameter {part.strip()!r} of strategy {spec!r} has no value",
                                 fix="write param=value")
            k, v = part.split("=", 1)
            params[k.strip()] = _literal(v)
    return name, params


def get_strategy(name: str) -> StrategyInfo:
    """The registry entry of ``name`` (case-insensitive; an alias of :data:`ALIASES` gives
    the entry of the strategy it names).

    Examples
    --------
    >>> get_strategy("dawid_skene").name, get_strategy("MajorityVote").name
    ('DS', 'MV')
    """
    _ensure_loaded()
    key = name.lower()
    info = _REGISTRY.get(ALIASES.get(key, key).lower())
    if info is None:
        import difflib

        known = {**{k: v.name for k, v in _REGISTRY.items()}, **{a: a for a in ALIASES}}
        close = difflib.get_close_matches(key, list(known), n=3)
        hint = f" Did you mean {', '.join(known[c] for c in close)}?" if close else ""
        raise InputError(f"unknown strategy {name!r}.{hint}",
                         fix="run `crowdwise agginfo` to list the strategies")
    return info


def make_strategy(spec: str | Aggregator, **overrides: Any) -> Aggregator:
    """Build a strategy from a specification string such as ``"MV[tie=smallest]"``.

    ``overrides`` (e.g. ``random_state``) apply only to parameters the strategy has. The
    values are checked against the strategy's ``parameter_rules`` (``fit`` checks them
    again, after any ``set_params``).
    """
    if isinstance(spec, Aggregator):
        return spec
    name, params = parse_spec(spec)
    info = get_strategy(name)
    names = set(info.cls._param_names())
    kwargs = dict(info.defaults)
    signature = inspect.signature(info.cls.__init__).parameters
    for k, v in params.items():
        if k not in names:
            raise InputError(f"strategy {info.name} has no parameter {k!r}",
                             fix=f"use one of {', '.join(sorted(names)) or '(none)'}")
        rule = info.cls.all_parameter_rules().get(k)
        _check_type(info.name, k, v, info.defaults.get(k, signature[k].default), getattr(rule, "help", "") or "")
        kwargs[k] = v
    for k, v in overrides.items():
        if k in names and k not in params:
            kwargs[k] = v
    try:
        model = info.cls(**kwargs)
    except TypeError as exc:  # pragma: no cover - defensive
        raise InputError(f"bad parameters for {info.name}: {exc}",
                         fix="see `crowdwise agginfo` for the parameters it takes") from None
    model.validate_params()  # a bad value on the command line is refused before any data is read
    return model


def _check_type(strategy: str, name: str, value: Any, default: Any, meaning: str = "") -> None:
    """A text value where the parameter takes a number or a boolean is a typo on the command
    line (``DS[max_iter=abc]``): say so here rather than fail inside ``fit``."""
    if not isinstance(value, str):
        return
    if isinstance(default, bool):
        kind, example = "True or False", "True"
    elif isinstance(default, (int, float)):
        kind, example = "a number", repr(default)
    else:
        return
    raise InputError(f"parameter {name} of strategy {strategy} must be {kind}, got {value!r}",
                     fix=f"write e.g. {strategy}[{name}={example}]" + (f" ({name}: {meaning})" if meaning else ""))


def _ensure_loaded() -> None:
    # importing the package registers every built-in strategy
    from .. import aggregate  # noqa: F401
