"""The strategy contract shared by every aggregation strategy.

scikit-learn's conventions: hyper-parameters stored as given in ``__init__``, nothing
learnt there; ``fit(votes)`` validates once and returns ``self``; learnt state lives in
attributes ending with ``_``: ``probas_`` (soft labels), ``labels_`` (hard labels) and
model-specific ones (``weights_``, ``valid_``, ``confusions_``...).
"""

from __future__ import annotations

import contextvars
import inspect
import numbers
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
from scipy import sparse

from ..errors import CrowdwiseError, InputError
from ..utils import argmax_shares, argmax_ties, check_random_state, class_ranks, normalize_rows
from ..io.frames import frame_kind, labels_frame, probas_frame
from ..votes import Votes

__all__ = [
    "Aggregator",
    "NotFittedError",
    "DENSE_PROBAS_LIMIT",
    "check_random_state",
    "class_ranks",
    "argmax_ties",
    "argmax_shares",
    "normalize_rows",
    "as_probas",
    "dense_probas",
    "worker_values_for",
    "fit_progress",
    "Rule",
    "Integer",
    "Real",
    "Options",
    "Boolean",
    "Satisfies",
    "AnyOf",
]


#: the progress callback of the enclosing fit_progress block (per thread / async context)
_PROGRESS: contextvars.ContextVar[Callable[[int, int, float | None], None] | None] = \
    contextvars.ContextVar("crowdwise_fit_progress", default=None)


@contextmanager
def fit_progress(callback: Callable[[int, int, float | None], None] | None) -> Iterator[None]:
    """Call ``callback(iteration, max_iter, objective)`` after each iteration of the fits run
    inside the block (iterative strategies; ``objective`` is None when a strategy has none).

    The model is not modified, so a fit stays reentrant and picklable.

    Examples
    --------
    >>> from crowdwise import Votes
    >>> from crowdwise.aggregate import DawidSkene
    >>> seen = []
    >>> v = Votes.from_records([0, 0, 1, 1], ["a", "b", "a", "b"], [0, 0, 1, 0])
    >>> with fit_progress(lambda it, n, obj: seen.append(it)):
    ...     _ = DawidSkene(max_iter=5).fit(v)
    >>> seen[:2]
    [1, 2]
    """
    token = _PROGRESS.set(callback)
    try:
        yield
    finally:
        _PROGRESS.reset(token)

#: Above this many entries (n_tasks x n_classes), soft labels are kept as a sparse CSR
#: matrix instead of a dense array (2**25 float64 entries = 256 MiB).
DENSE_PROBAS_LIMIT = 2**25


class NotFittedError(CrowdwiseError, AttributeError):
    """The strategy was used before ``fit``."""


def as_probas(scores: sparse.sparray | np.ndarray, *, dense: bool | None = None) -> np.ndarray | sparse.csr_array:
    """Normalised soft labels in the form the size calls for.

    Dense ``(n_tasks, K)`` array when ``n_tasks * K <= DENSE_PROBAS_LIMIT`` (or
    ``dense=True``), CSR matrix otherwise (or ``dense=False``). In the sparse form an
    empty row stands for the uniform distribution.
    """
    n, k = scores.shape
    if dense is None:
        dense = n * k <= DENSE_PROBAS_LIMIT
    if dense:
        arr = scores.toarray() if sparse.issparse(scores) else np.asarray(scores, dtype=float)
        return normalize_rows(arr)
    return normalize_rows(sparse.csr_array(scores))


def dense_probas(probas: np.ndarray | sparse.sparray) -> np.ndarray:
    """Dense copy of soft labels; empty sparse rows become uniform."""
    if not sparse.issparse(probas):
        return np.asarray(probas, dtype=float)
    out = probas.toarray()
    return normalize_rows(out)


# ---------------------------------------------------------------------- parameter rules
#: no example value for a rule's fix
_NO_EXAMPLE: Any = object()


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _example(value: Any) -> str:
    """An example value as the user would type it (``2/3`` as ``0.667``)."""
    return f"{value:.3g}" if isinstance(value, float) and value != float(f"{value:.3g}") else repr(value)


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


class Rule:
    """A condition a hyper-parameter must meet, declared in a strategy's
    :attr:`Aggregator.parameter_rules` and checked at the start of ``fit``.

    ``noun`` names what the value is (``"a tie rule"``): the error then reads
    ``tie='largest' is not a tie rule ('random' or 'smallest')`` rather than
    ``tie must be ...``. ``example`` is the value the error suggests (default: the
    parameter's default when the rule accepts it) and ``help`` says in a few words what
    the parameter gives (``"the most EM iterations to run"``). Rules combine with ``|``
    (``Integer(1) | None``: an integer >= 1, or None).
    """

    def __init__(self, *, noun: str | None = None, example: Any = _NO_EXAMPLE, help: str | None = None):
        self.noun = noun
        self.example = example
        self.help = help

    def accepts(self, value: Any) -> bool:  # pragma: no cover - abstract
        """Whether ``value`` meets the rule."""
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        """The accepted values in words (``"an integer >= 1"``)."""
        raise NotImplementedError

    def bad_value(self) -> Any:
        """A value the rule refuses (the common checks try it), or None when the rule
        knows none."""
        return None

    def _items(self) -> list[str]:
        """The alternatives of :meth:`describe`, for a union to list them all."""
        return [self.describe()]

    def problem(self, owner: str, name: str, value: Any) -> str:
        """The error's sentence for a refused ``value`` of parameter ``name``."""
        if self.noun:
            return f"{owner}: {name}={_short_repr(value)} is not {self.noun} ({self.describe()})"
        return f"{owner}: {name} must be {self.describe()}, got {_short_repr(value)}"

    def __or__(self, other: "Rule | None") -> "AnyOf":
        return AnyOf(self, other)

    def __ror__(self, other: "Rule | None") -> "AnyOf":
        return AnyOf(other, self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.describe()}>"


def _bound(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    def num(x: float) -> str:
        return f"{x:g}" if isinstance(x, float) else str(x)

    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{num(low)}, {num(high)}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {num(low)}"
    if high is not None:
        return f" {'<' if high_open else '<='} {num(high)}"
    return ""


class Integer(Rule):
    """An integer (``int`` or NumPy integer, not a bool) in ``[low, high]`` (None: no bound).

    Examples
    --------
    >>> Integer(1).describe(), Integer(1).accepts(3), Integer(1).accepts(0), Integer(1).accepts(2.0)
    ('an integer >= 1', True, False, False)
    """

    def __init__(self, low: int | None = None, high: int | None = None, **kw: Any):
        super().__init__(**kw)
        self.low, self.high = low, high

    def accepts(self, value: Any) -> bool:
        return _is_int(value) and (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def describe(self) -> str:
        return "an integer" + _bound(self.low, self.high, False, False)

    def bad_value(self) -> Any:
        if self.low is not None:
            return self.low - 1
        return self.high + 1 if self.high is not None else 0.5


class Real(Rule):
    """A finite real number (an int or a float, not a bool) between ``low`` and ``high``,
    bounds included unless ``low_open`` / ``high_open``. ``finite=False`` lets ``inf``
    through (never NaN).

    Examples
    --------
    >>> Real(0).describe(), Real(0, low_open=True).describe(), Real(-3, 3).describe()
    ('a finite number >= 0', 'a finite number > 0', 'a finite number in [-3, 3]')
    >>> Real(0).accepts(1), Real(0).accepts(-0.1), Real(0).accepts(float("nan")), Real(0).accepts(True)
    (True, False, False, False)
    """

    def __init__(self, low: float | None = None, high: float | None = None, *, low_open: bool = False,
                 high_open: bool = False, finite: bool = True, **kw: Any):
        super().__init__(**kw)
        self.low, self.high, self.low_open, self.high_open, self.finite = low, high, low_open, high_open, finite

    def accepts(self, value: Any) -> bool:
        if not _is_real(value) or np.isnan(value) or (self.finite and not np.isfinite(value)):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or not (value > self.high or (self.high_open and value == self.high))

    def describe(self) -> str:
        return ("a finite number" if self.finite else "a number") + _bound(self.low, self.high, self.low_open,
                                                                            self.high_open)

    def bad_value(self) -> Any:
        if self.low is not None:
            return self.low if self.low_open else self.low - 1
        if self.high is not None:
            return self.high if self.high_open else self.high + 1
        return float("nan")


def _either(texts: list[str]) -> str:
    """``"a, b or c"``."""
    return texts[0] if len(texts) == 1 else f"{', '.join(texts[:-1])} or {texts[-1]}"


def _same_option(value: Any, option: Any) -> bool:
    if option is None:
        return value is None
    if isinstance(option, bool):
        return isinstance(value, (bool, np.bool_)) and bool(value) is option
    if isinstance(option, str):
        return isinstance(value, str) and value == option
    try:
        return type(value) is type(option) and bool(value == option)
    except (TypeError, ValueError):
        return False


class Options(Rule):
    """One of a few values (strings, True/False, None), compared with their type: ``1`` is
    not ``True``, ``"True"`` is not ``True``.

    Examples
    --------
    >>> tie = Options("random", "smallest", noun="a tie rule")
    >>> tie.accepts("random"), tie.accepts("largest")
    (True, False)
    >>> tie.problem("MajorityVote", "tie", "largest")
    "MajorityVote: tie='largest' is not a tie rule ('random' or 'smallest')"
    """

    def __init__(self, *options: Any, **kw: Any):
        super().__init__(**kw)
        self.options = options

    def accepts(self, value: Any) -> bool:
        return any(_same_option(value, o) for o in self.options)

    def describe(self) -> str:
        return _either(self._items())

    def _items(self) -> list[str]:
        return [repr(o) for o in self.options]

    def bad_value(self) -> Any:
        return "no-such-option"


class Boolean(Options):
    """True or False (a Python or NumPy bool)."""

    def __init__(self, **kw: Any):
        super().__init__(True, False, **kw)


class Satisfies(Rule):
    """A value for which ``predicate(value)`` is true, described by ``description``
    (e.g. ``"a fitted DS model or a {worker id: K x K confusion} mapping"``)."""

    def __init__(self, predicate: Callable[[Any], bool], description: str, **kw: Any):
        super().__init__(**kw)
        self.predicate, self.description = predicate, description

    def accepts(self, value: Any) -> bool:
        try:
            return bool(self.predicate(value))
        except Exception:  # noqa: BLE001 - a predicate that cannot read the value refuses it
            return False

    def describe(self) -> str:
        return self.description


class AnyOf(Rule):
    """Any of several rules (``Integer(1) | None``); ``None`` stands for ``Options(None)``."""

    def __init__(self, *rules: "Rule | None", **kw: Any):
        flat: list[Rule] = []
        for r in rules:
            r = Options(None) if r is None else r
            flat.extend(r.rules if isinstance(r, AnyOf) else [r])
        nouns = [r.noun for r in flat if r.noun]
        examples = [r.example for r in flat if r.example is not _NO_EXAMPLE]
        helps = [r.help for r in flat if r.help]
        kw.setdefault("noun", nouns[0] if nouns else None)
        kw.setdefault("example", examples[0] if examples else _NO_EXAMPLE)
        kw.setdefault("help", helps[0] if helps else None)
        super().__init__(**kw)
        self.rules = flat

    def accepts(self, value: Any) -> bool:
        return any(r.accepts(value) for r in self.rules)

    def describe(self) -> str:
        return _either([item for r in self.rules for item in r._items()])

    def bad_value(self) -> Any:
        for r in self.rules:
            bad = r.bad_value()
            if bad is not None and not self.accepts(bad):
                return bad
        return None


def _is_seed(value: Any) -> bool:
    return value is None or isinstance(value, np.random.Generator) or (_is_int(value) and value >= 0)


#: the seed every strategy takes (see :func:`~crowdwise.utils.check_random_state`)
SEED = Satisfies(_is_seed, "None, an integer >= 0 or a numpy Generator", example=0)
#: the tie rule of :func:`~crowdwise.utils.argmax_ties`
TIE = Options("random", "smallest", noun="a tie rule")


class Aggregator:
    """Base class of aggregation strategies.

    Subclasses implement :meth:`_fit` which sets ``probas_`` and ``labels_`` (and
    model-specific attributes). Class attributes:

    ``name``
        registry name (``"MV"``), and ``description`` a one-line summary.
    ``scales_to_many_classes``
        True when memory is O(votes) whatever K (no K x K matrix per worker).
    ``parameter_rules``
        ``{parameter: Rule}``: what each hyper-parameter accepts (:class:`Integer`,
        :class:`Real`, :class:`Options`, :class:`Boolean`, :class:`Satisfies`, combined
        with ``|``), checked at the start of ``fit`` by :meth:`validate_params`. Rules
        merge along the class hierarchy: a subclass adds or replaces rules (``None``
        drops one), and a rule applies only where ``__init__`` has the parameter. Checks
        that involve several parameters or the votes stay in the strategy's own code.

    Examples
    --------
    >>> class Tenth(Aggregator):
    ...     parameter_rules = {"share": Real(0, 1)}
    ...     def __init__(self, share=0.1):
    ...         self.share = share
    >>> Tenth(share=2).validate_params()
    Traceback (most recent call last):
    ...
    crowdwise.errors.InputError: Tenth: share must be a finite number in [0, 1], got 2. Fix: e.g. share=0.1.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    scales_to_many_classes: ClassVar[bool] = True
    soft: ClassVar[bool] = True
    #: False for latent-variable models whose estimate with a single vote per task is not
    #: identifiable (e.g. Dawid-Skene may then relabel tasks): the common checks then only
    #: require finite, normalised outputs.
    single_vote_is_label: ClassVar[bool] = True
    #: True for methods defined for two classes only (the common checks then use K = 2).
    binary_only: ClassVar[bool] = False
    #: False for a method that is by nature not symmetric in the classes (e.g. a prior
    #: ordered by class index): the common checks then skip listing the classes in
    #: another order. Say why in a comment where a strategy sets it.
    class_symmetric: ClassVar[bool] = True
    #: the rules of the parameters most strategies share; see the class docstring
    parameter_rules: ClassVar[dict[str, Rule | None]] = {
        "tie": TIE,
        "random_state": SEED,
        "dense": Options(None, True, False),
    }

    # -------------------------------------------------------------- sklearn-like params
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyper-parameters as given to ``__init__``."""
        return {p: getattr(self, p) for p in self._param_names()}

    def set_params(self, **params: Any) -> "Aggregator":
        """Set hyper-parameters (unknown names raise)."""
        valid = set(self._param_names())
        for k, v in params.items():
            if k not in valid:
                raise InputError(f"{type(self).__name__} has no parameter {k!r}",
                                 fix=f"use one of {', '.join(sorted(valid)) or '(none)'}")
            setattr(self, k, v)
        return self

    @classmethod
    def all_parameter_rules(cls) -> dict[str, Rule]:
        """The rule of each parameter of ``__init__`` that has one (``parameter_rules``
        merged from the base classes down), in the order of ``__init__``."""
        merged: dict[str, Rule | None] = {}
        for klass in reversed(cls.__mro__):
            merged.update(vars(klass).get("parameter_rules", {}))
        return {n: r for n in cls._param_names() if (r := merged.get(n)) is not None}

    def validate_params(self) -> None:
        """Check every hyper-parameter against its rule (``fit`` calls it first).

        Raises
        ------
        crowdwise.InputError
            Naming the strategy, the parameter, the value, what it must be and an
            example: ``DawidSkene: max_iter must be an integer >= 1, got -1. Fix: give the
            most iterations to run, e.g. max_iter=100.``
        """
        signature = inspect.signature(type(self).__init__).parameters
        for name, rule in self.all_parameter_rules().items():
            value = getattr(self, name)
            if rule.accepts(value):
                continue
            example = rule.example
            if example is _NO_EXAMPLE:
                default = signature[name].default
                if default is not inspect.Parameter.empty and rule.accepts(default):
                    example = default
            fix = ", ".join(p for p in (f"give {rule.help}" if rule.help else "",
                                        "" if example is _NO_EXAMPLE else f"e.g. {name}={_example(example)}") if p)
            raise InputError(rule.problem(type(self).__name__, name, value),
                             fix=fix or f"give {name} as {rule.describe()}")

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        parts = []
        for p in self._param_names():
            v = getattr(self, p, None)
            default = sig.parameters[p].default
            if default is inspect.Parameter.empty or not _same(v, default):
                parts.append(f"{p}={v!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    # -------------------------------------------------------------- API
    def fit(self, votes: Votes | Any) -> "Aggregator":
        """Learn from ``votes`` (a :class:`~crowdwise.Votes`, or a pandas / polars
        DataFrame or Arrow table with columns ``task, worker, label``); returns ``self``."""
        self.validate_params()
        votes = self._check_votes(votes)
        self._remember_ids(votes)
        self._fit(votes)
        return self

    def fit_predict(self, votes: Votes | Any) -> Any:
        """``fit(votes).labels_``: class indices for a :class:`~crowdwise.Votes`; for a
        DataFrame, the class values keyed by task id (pandas: a Series named
        ``agg_label`` indexed by ``task``, as crowd-kit's; polars / Arrow: a table with
        columns ``task, agg_label``; a task a validity rule leaves without a valid label,
        ``valid_`` False, is missing)."""
        kind = frame_kind(votes)
        labels = self.fit(votes).labels_
        if kind is None:
            return labels
        valid = getattr(self, "valid_", None)  # a validity rule (TwoThird, PlantNet): no label where not valid
        return labels_frame(labels if valid is None else np.where(valid, labels, -1), self.task_ids_,
                            self.classes_, kind)

    def fit_predict_proba(self, votes: Votes | Any) -> Any:
        """``fit(votes).probas_``: an array (or CSR) for a :class:`~crowdwise.Votes`; for a
        DataFrame, one column per class value and one row per task (pandas: indexed by
        ``task``; polars / Arrow: a first column ``task``)."""
        kind = frame_kind(votes)
        probas = self.fit(votes).probas_
        return probas if kind is None else probas_frame(probas, self.task_ids_, self.classes_, kind)

    def predict_proba(self, votes: Votes | Any) -> Any:
        """Soft labels of the tasks of ``votes`` using the fitted worker parameters.

        Strategies without worker parameters simply aggregate ``votes``. A DataFrame is
        read with the fitted classes and answered as by :meth:`fit_predict_proba`.
        """
        self._check_fitted()
        kind = frame_kind(votes)
        votes = self._check_votes(votes, classes=self.classes_)
        if votes.n_classes != len(self.classes_) or not np.array_equal(
                np.asarray(votes.classes).astype(str), np.asarray(self.classes_).astype(str)):
            raise InputError("new votes declare other classes than the fitted ones "
                             f"({votes.n_classes} vs {len(self.classes_)})",
                             fix="build them with classes=model.classes_")
        probas = self._predict_proba(votes)
        return probas if kind is None else probas_frame(probas, votes.task_ids, self.classes_, kind)

    def predict(self, votes: Votes | Any) -> Any:
        """Hard labels of the tasks of ``votes`` (tie rule of the strategy); a DataFrame
        is answered as by :meth:`fit_predict`."""
        kind = frame_kind(votes)
        votes = self._check_votes(votes, classes=getattr(self, "classes_", None))
        labels = argmax_ties(self.predict_proba(votes), tie=getattr(self, "tie", "smallest"),
                             random_state=getattr(self, "random_state", None))
        return labels if kind is None else labels_frame(labels, votes.task_ids, self.classes_, kind)

    def worker_table(self) -> Any:
        """The fitted per-worker parameters as a pandas DataFrame indexed by worker id:
        one column per fitted attribute holding one number per worker (``skills_`` of
        WAWA, ``accuracies_`` of OneCoinDS, ``abilities_`` of GLAD...), named without the
        trailing underscore. Empty (no column) for a strategy without such parameters.

        >>> from crowdwise import Votes
        >>> from crowdwise.aggregate import WAWA
        >>> v = Votes.from_records([0, 0, 0, 1, 1, 1], ["a", "b", "c"] * 2, [0, 0, 1, 1, 1, 0])
        >>> table = WAWA().fit(v).worker_table()
        >>> table.index.name, table["skills"].to_dict()
        ('worker', {'a': 1.0, 'b': 1.0, 'c': 0.0})
        """
        from .._lazy import pd

        self._check_fitted()
        ids = np.asarray(self.worker_ids_)
        cols = {}
        for name, value in sorted(vars(self).items()):
            if (name.endswith("_") and not name.startswith("_") and isinstance(value, np.ndarray)
                    and value.ndim == 1 and value.size == ids.size and value.dtype.kind in "fiub"
                    and name not in ("worker_ids_", "task_ids_", "classes_", "labels_")):
                cols[name[:-1]] = value
        return pd.DataFrame(cols, index=pd.Index(ids.tolist(), name="worker"))

    # -------------------------------------------------------------- scikit-learn
    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "labels_")

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags (1.6 and later), so that ``check_is_fitted`` and the tag
        readers work; nothing of scikit-learn is imported before they are asked for."""
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False), transformer_tags=None,
                    classifier_tags=None, regressor_tags=None, requires_fit=True)

    # -------------------------------------------------------------- hooks
    def _tick(self, iteration: int, total: int, objective: float | None = None) -> None:
        """Report an iteration to the callback of the enclosing :func:`fit_progress`
        block (the CLI's progress bar uses it); nothing otherwise."""
        callback = _PROGRESS.get()
        if callback is not None:
            callback(iteration, total, objective)

    def _fit(self, votes: Votes) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict_proba(self, votes: Votes) -> np.ndarray | sparse.csr_array:
        return type(self)(**self.get_params()).fit(votes).probas_

    def _remember_ids(self, votes: Votes) -> None:
        """The sizes, classes and ids of the votes of the fit (``n_tasks_``, ``classes_``...)."""
        self.n_tasks_, self.n_classes_ = votes.n_tasks, votes.n_classes
        self.classes_ = votes.classes
        self.task_ids_ = votes.task_ids
        self.worker_ids_ = votes.worker_ids

    def _check_votes(self, votes: Votes | Any, classes: Any = None) -> Votes:
        """``votes`` as a :class:`~crowdwise.Votes`: a DataFrame (pandas, polars) or Arrow
        table with columns ``task, worker, label`` (``performer`` for the worker, as
        crowd-kit names it) is read by :func:`crowdwise.io.from_dataframe`, with
        ``classes`` (the fitted ones, for new votes)."""
        if isinstance(votes, Votes):
            return votes
        if frame_kind(votes) is not None:
            from ..io import from_dataframe

            return from_dataframe(votes, classes=None if classes is None else list(classes))
        raise InputError(f"{type(self).__name__}.fit expects a crowdwise.Votes or a DataFrame, got "
                         f"{type(votes).__name__}",
                         fix="pass a pandas / polars DataFrame (or Arrow table) with columns task, worker, label, "
                             "or build Votes with crowdwise.Votes.from_records(...) or crowdwise.io.load_votes(path)")

    def _check_fitted(self) -> None:
        if not hasattr(self, "labels_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit(votes) first.")


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return a is b


def worker_values_for(model: Aggregator, votes: Votes, values: np.ndarray, default: float) -> np.ndarray:
    """Per-worker values learnt by a fitted ``model``, looked up by the worker ids of ``votes``.

    Used by ``predict_proba(new_votes)`` to reuse fitted worker parameters; workers unseen
    at fit time get ``default``. Ids match as by :meth:`~crowdwise.Votes.match_ids` (the
    rule of every fitted model: ``"7"`` is worker ``7``). Returns an array of shape
    ``(votes.n_workers,)``.
    """
    out = np.full(votes.n_workers, default, dtype=float)
    fitted_ids = getattr(model, "worker_ids_", None)
    if fitted_ids is None or votes.n_workers == 0:
        return out
    idx = Votes.match_ids(votes.worker_ids, fitted_ids)
    known = idx >= 0
    out[known] = np.asarray(values, dtype=float)[idx[known]]
    return out
