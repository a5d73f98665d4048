"""Benchmark runner: strategies x data sets (votes + truth), repeated over seeds.

Each run records accuracy against the truth, fit time, peak memory of the fit (traced
allocations, numpy included) and the iteration count when the strategy has one. The
result is a long table (one row per data set, strategy and seed) that
:func:`summary_table` turns into accuracy mean ± sd per data set and strategy, and
:func:`to_markdown` into the page ``docs/benchmarks/accuracy.md``.

crowd-kit's strategies run side by side under their own names, ``ck:<class>``
(``ck:DawidSkene``, ``ck:GLAD[n_iter=50]``), when the ``crowdkit`` package is importable:
they get exactly the same votes (the integer task, worker and label indices of the
:class:`~crowdwise.Votes`, duplicates included) as a ``task, worker, label`` DataFrame,
built before the timer starts, and are scored by the same metric.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import CrowdwiseError, InputError
from ..votes import Votes

__all__ = ["BenchmarkData", "load_benchmark_data", "run_benchmark", "summary_table", "to_markdown", "PUBLISHED",
           "CROWDKIT_PREFIX", "CROWDKIT_METHODS", "require_crowdkit", "make_crowdkit", "crowdkit_specs",
           "check_strategies", "split_specs"]

#: Published accuracies we compare against: data set -> (figure, method).
#: Sources: Zheng, Li, Li, Shan & Cheng, "Truth inference in crowdsourcing: is the problem
#: solved?", PVLDB 2017; Li, Rubinstein & Cohn, "Exploiting worker correlation for label
#: aggregation in crowdsourcing", ICML 2019 (figures as collected in our issue tracker).
PUBLISHED: dict[str, tuple[float, str]] = {
    "zheng_product": (0.9378, "BCC; DS .9366"),
    "zheng_sentiment": (0.960, "best"),
    "zheng_relevance": (0.6164, "LFC"),
    "bluebirds": (0.889, "best"),
    "rte": (0.931, "best"),
    "zheng_dog": (0.840, "best"),
    "web_relevance": (0.8225, "best"),
}


@dataclass(frozen=True)
class BenchmarkData:
    name: str
    votes: Votes
    truth: np.ndarray  # class index per task, -1 unknown


def load_benchmark_data(folder: Path) -> BenchmarkData:
    """Votes and truth of a data-set folder.

    Votes: a peerannot folder, or ``votes.csv`` / ``votes.parquet`` in the folder. Truth:
    ``truth.csv`` (task,label) or ``ground_truth.npy`` (peerannot / ``crowdwise simulate``).
    """
    from .. import io

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("is not a data-set folder", source=folder,
                         fix="give folders holding votes (answers.json or votes.csv) and a truth file")
    votes = io.load_votes(folder)
    for cand in ("truth.csv", "truth.parquet", "ground_truth.npy"):
        if (folder / cand).exists():
            return BenchmarkData(folder.name, votes, io.load_truth(folder / cand, votes))
    raise InputError("has no truth file", source=folder,
                     fix="add truth.csv (task,label) or ground_truth.npy to benchmark against it")


#: prefix of crowd-kit strategy names in a benchmark
CROWDKIT_PREFIX = "ck:"
#: crowd-kit 1.4 classification aggregators that take (task, worker, label) votes alone
CROWDKIT_METHODS = ("MajorityVote", "Wawa", "DawidSkene", "OneCoinDawidSkene", "GLAD", "MACE", "KOS",
                    "ZeroBasedSkill", "MMSR")


def require_crowdkit():
    """The ``crowdkit.aggregation`` module, or an InputError saying how to get it."""
    import sys

    try:
        import crowdkit.aggregation as agg
    except ImportError as exc:
        raise InputError(f"crowd-kit is not importable by this Python ({sys.executable}): {exc}",
                         fix="run the benchmark from an environment with crowd-kit installed "
                             "(pip install crowd-kit; crowd-kit 1.4.2 needs pandas<3 and scikit-learn<1.8, so a "
                             "separate virtual environment is best), or leave out the ck: strategies") from None
    return agg


def _is_crowdkit(spec: str) -> bool:
    return spec.strip().lower().startswith(CROWDKIT_PREFIX)


def _parse_crowdkit(spec: str) -> tuple[str, dict]:
    from ..aggregate import parse_spec

    body = spec.strip()[len(CROWDKIT_PREFIX):]
    name, params = parse_spec(body)
    match = [m for m in CROWDKIT_METHODS if m.lower() == name.lower()]
    if not match:
        raise InputError(f"unknown crowd-kit strategy {name!r}",
                         fix=f"use one of {', '.join(CROWDKIT_PREFIX + m for m in CROWDKIT_METHODS)}")
    return match[0], params


def crowdkit_specs(names: str) -> list[str]:
    """``"DawidSkene, GLAD"`` -> ``["ck:DawidSkene", "ck:GLAD"]``; ``"all"`` -> every method
    of :data:`CROWDKIT_METHODS`. Names are checked (case-insensitive), not imported.

    Examples
    --------
    >>> crowdkit_specs("dawidskene, GLAD[n_iter=5]")
    ['ck:DawidSkene', 'ck:GLAD[n_iter=5]']
    """
    parts = [p.strip() for p in split_specs(names) if p.strip()]
    if [p.lower() for p in parts] == ["all"]:
        return [CROWDKIT_PREFIX + m for m in CROWDKIT_METHODS]
    out = []
    for p in parts:
        p = p[len(CROWDKIT_PREFIX):] if _is_crowdkit(p) else p
        name, _ = _parse_crowdkit(CROWDKIT_PREFIX + p)
        rest = p.strip()[len(name):]
        out.append(CROWDKIT_PREFIX + name + rest)
    if not out:
        raise InputError("no crowd-kit strategy named", fix="give names such as DawidSkene,GLAD or all")
    return out


def split_specs(text: str) -> list[str]:
    """Split on commas outside brackets (``DS[a=1, b=2],MV`` is two specs)."""
    parts, depth, cur = [], 0, []
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def make_crowdkit(spec: str, random_state: int | None = None):
    """A crowd-kit aggregator from ``"ck:Name[param=value, ...]"``.

    ``random_state`` is passed when the class has that parameter (and the spec does not
    set it); progress bars are silenced (``silent=True``, ``verbose=0``) unless set.
    """
    import inspect

    agg = require_crowdkit()
    name, params = _parse_crowdkit(spec)
    cls = getattr(agg, name)
    accepted = set(inspect.signature(cls).parameters)
    bad = [k for k in params if k not in accepted]
    if bad:
        raise InputError(f"crowd-kit's {name} has no parameter {bad[0]!r}",
                         fix=f"use one of {', '.join(sorted(a for a in accepted if not a.endswith('_'))) or '(none)'}")
    for k, v in (("random_state", random_state), ("silent", True), ("verbose", 0)):
        if k in accepted and k not in params and v is not None:
            params[k] = v
    return cls(**params)


def check_strategies(specs: Iterable[str]) -> list[str]:
    """Build each strategy once (crowdwise registry or ``ck:`` crowd-kit) so that a wrong
    name or parameter is reported before any data is read; returns the specs."""
    from ..aggregate import make_strategy

    specs = list(specs)
    for spec in specs:
        if _is_crowdkit(spec):
            make_crowdkit(spec)
        else:
            make_strategy(spec)
    return specs


def _crowdkit_frame(votes: Votes) -> pd.DataFrame:
    return pd.DataFrame({"task": votes.task, "worker": votes.worker, "label": votes.label})


def _crowdkit_labels(result: pd.Series, n_tasks: int) -> np.ndarray:
    """crowd-kit's labels (a Series indexed by task index) as one class index per task, -1
    where it gave none."""
    out = np.full(n_tasks, -1, dtype=np.int64)
    ok = result.notna().to_numpy()
    out[result.index.to_numpy()[ok].astype(np.int64)] = result.to_numpy()[ok].astype(np.int64)
    return out


def _scores(r) -> dict:
    return {"accuracy": r.accuracy, "share_valid": r.share_valid, "accuracy_valid": r.accuracy_valid,
            "classes_retrieved": r.classes_retrieved}


def _fit_crowdkit(spec: str, seed: int, data: BenchmarkData, invalid_as_wrong: bool = False) -> dict:
    from .metrics import evaluate_labels

    model = make_crowdkit(spec, random_state=seed)
    df = _crowdkit_frame(data.votes)
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        result = model.fit_predict(df)
    except Exception as exc:  # a peer's failure is a row of the table, not a crash of the run
        tracemalloc.stop()
        return {"error": f"crowd-kit: {type(exc).__name__}: {exc}"[:120]}
    dt = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    labels = _crowdkit_labels(result, data.votes.n_tasks)
    r = evaluate_labels(labels, data.truth, n_classes=data.votes.n_classes, invalid_as_wrong=invalid_as_wrong)
    hist = getattr(model, "loss_history_", None)
    return {**_scores(r), "time_s": dt, "peak_mb": peak / 2**20,
            "n_iter": len(hist) if hist is not None else np.nan}


def _fit_once(spec: str, seed: int, data: BenchmarkData, invalid_as_wrong: bool = False) -> dict:
    from ..aggregate import make_strategy

    from .metrics import evaluate_labels

    if _is_crowdkit(spec):
        return _fit_crowdkit(spec, seed, data, invalid_as_wrong)
    model = make_strategy(spec, random_state=seed)
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        model.fit(data.votes)
    except CrowdwiseError as exc:
        tracemalloc.stop()
        return {"error": str(exc).split(". Fix:")[0][:120]}
    dt = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    r = evaluate_labels(model.labels_, data.truth, getattr(model, "valid_", None), n_classes=data.votes.n_classes,
                        invalid_as_wrong=invalid_as_wrong)
    return {**_scores(r), "time_s": dt, "peak_mb": peak / 2**20, "n_iter": getattr(model, "n_iter_", np.nan)}


def run_benchmark(datasets: Sequence[BenchmarkData], strategies: Iterable[str], seeds: Sequence[int] = (0,),
                  callback: Callable[[dict], None] | None = None, *, invalid_as_wrong: bool = False) -> pd.DataFrame:
    """Fit every strategy on every data set with every seed; one row per run.

    ``strategies`` are registry specifications (``"MV"``, ``"DS[prior=1]"``) or crowd-kit
    ones (``"ck:DawidSkene"``, see the module documentation). Columns: dataset, strategy,
    seed, accuracy, share_valid, accuracy_valid (accuracy on the tasks the strategy labels
    as valid), classes_retrieved, time_s, peak_mb, n_iter, error (the reason a strategy
    could not run, e.g. a binary-only method on K > 2).

    ``invalid_as_wrong``: ``accuracy`` counts a task with a truth that a validity rule
    (TwoThird, PlantNet) leaves without a valid label as wrong (the Pl@ntNet study's rule;
    see :func:`crowdwise.evaluate.evaluate_labels`); by default such a task is left out.
    """
    rows = []
    for data in datasets:
        for spec in strategies:
            for seed in seeds:
                row = {"dataset": data.name, "strategy": spec, "seed": seed,
                       **_fit_once(spec, seed, data, invalid_as_wrong)}
                rows.append(row)
                if callback is not None:
                    callback(row)
    cols = ["dataset", "strategy", "seed", "accuracy", "share_valid", "accuracy_valid", "classes_retrieved",
            "time_s", "peak_mb", "n_iter", "error"]
    df = pd.DataFrame(rows)
    for c in cols:
        if c not in df:
            df[c] = np.nan
    return df[cols]


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per data set and strategy: accuracy mean and sd over seeds, mean time, peak memory,
    iterations (and the error, if any)."""
    g = runs.groupby(["dataset", "strategy"], sort=False)
    out = g.agg(accuracy=("accuracy", "mean"), accuracy_sd=("accuracy", "std"),
                share_valid=("share_valid", "mean"), accuracy_valid=("accuracy_valid", "mean"),
                classes_retrieved=("classes_retrieved", "mean"), time_s=("time_s", "mean"),
                peak_mb=("peak_mb", "max"), n_iter=("n_iter", "mean"), error=("error", "first"))
    out["accuracy_sd"] = out["accuracy_sd"].fillna(0.0)
    return out.reset_index()


def to_markdown(runs: pd.DataFrame, command: str, *, published: dict | None = PUBLISHED,
                invalid_as_wrong: bool = False) -> str:
    """The accuracy page: accuracy per data set and strategy, the mean, and time.

    ``invalid_as_wrong``: the runs were scored with that rule (``run_benchmark(...,
    invalid_as_wrong=True)``): the page says so, compares every strategy on the same tasks,
    and adds the accuracy on valid tasks and the share of classes retrieved."""
    s = summary_table(runs)
    strategies = list(dict.fromkeys(s["strategy"]))
    datasets = list(dict.fromkeys(s["dataset"]))
    n_seeds = runs["seed"].nunique()
    lines = [f"Produced by `{command}`.", "",
             f"Accuracy against the truth (mean ± sd over {n_seeds} seed{'s' if n_seeds > 1 else ''}; "
             "the sd only reflects random tie-breaking and initialisation). "
             + ("A task left without a valid label counts as wrong (--invalid-as-wrong), so every strategy "
                "is scored on every task with a truth; the share of valid tasks is given in brackets. "
                "**Bold**: best strategy of the row." if invalid_as_wrong else
                "**Bold**: best strategy of the row among those that label every task. "
                "Strategies with a validity rule (TwoThird, PlantNet) are scored on the tasks they keep "
                "as valid, whose share is given in brackets: they are not comparable with the others."), ""]
    head = ["data set"] + strategies + (["best published"] if published else [])
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for d in datasets:
        sub = s[s["dataset"] == d].set_index("strategy")
        full = sub["error"].isna() & ((sub["share_valid"] >= 1 - 1e-12) | invalid_as_wrong)
        best = sub["accuracy"].where(full).max()
        cells = [d]
        for st in strategies:
            r = sub.loc[st]
            if isinstance(r["error"], str):
                cells.append("n/a")
            else:
                txt = f"{r['accuracy']:.4f}" + (f" ± {r['accuracy_sd']:.3f}" if r["accuracy_sd"] > 0 else "")
                if r["share_valid"] < 1 - 1e-12:
                    txt += f" ({r['share_valid']:.0%})"
                cells.append(f"**{txt}**" if (r["share_valid"] >= 1 - 1e-12 or invalid_as_wrong)
                             and r["accuracy"] == best else txt)
        if published:
            p = published.get(d)
            cells.append(f"{p[0]:.4f} ({p[1]})" if p else "")
        lines.append("| " + " | ".join(cells) + " |")
    means = s[s["error"].isna()].groupby("strategy", sort=False)["accuracy"].mean()
    counts = s[s["error"].isna()].groupby("strategy", sort=False)["accuracy"].size()
    lines.append("| **mean** | " + " | ".join(
        f"{means.get(st, np.nan):.4f}" + (f" ({counts.get(st, 0)} sets)" if counts.get(st, 0) < len(datasets) else "")
        for st in strategies) + (" | |" if published else " |"))
    if invalid_as_wrong:
        for title, col in (("Accuracy on the valid tasks alone (mean over seeds):", "accuracy_valid"),
                           ("Share of the classes of the truth retrieved (correctly given to at least one "
                            "task; mean over seeds):", "classes_retrieved")):
            lines += ["", title, ""]
            lines.append("| data set | " + " | ".join(strategies) + " |")
            lines.append("|" + "---|" * (len(strategies) + 1))
            for d in datasets:
                sub = s[s["dataset"] == d].set_index("strategy")
                lines.append(f"| {d} | " + " | ".join(
                    "n/a" if isinstance(sub.loc[st, "error"], str) or sub.loc[st, col] != sub.loc[st, col]
                    else f"{sub.loc[st, col]:.4f}" for st in strategies) + " |")
    lines += ["", "Fit time in seconds (mean over seeds):", ""]
    lines.append("| data set | " + " | ".join(strategies) + " |")
    lines.append("|" + "---|" * (len(strategies) + 1))
    for d in datasets:
        sub = s[s["dataset"] == d].set_index("strategy")
        lines.append(f"| {d} | " + " | ".join(
            "n/a" if isinstance(sub.loc[st, "error"], str) else f"{sub.loc[st, 'time_s']:.3f}"
            for st in strategies) + " |")
    lines.append("| **total** | " + " | ".join(
        f"{s[(s['strategy'] == st)]['time_s'].sum():.2f}" for st in strategies) + " |")
    errors = s[s["error"].notna()]
    if len(errors):
        lines += ["", "Not run (n/a):", ""]
        for st, grp in errors.groupby("strategy", sort=False):
            lines.append(f"- {st} on {', '.join(grp['dataset'])}: {grp['error'].iloc[0]}")
    if published:
        lines += ["", "Published figures: Zheng et al., PVLDB 2017; Li, Rubinstein & Cohn, ICML 2019."]
    return "\n".join(lines) + "\n"
