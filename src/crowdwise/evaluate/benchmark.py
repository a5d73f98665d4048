"""Benchmark runner: strategies x data sets (votes + truth), repeated over seeds.

Each run records accuracy against the truth, fit time, peak memory of the fit (traced
allocations, numpy included) and the iteration count when the strategy has one. The
result is a long table (one row per data set, strategy and seed) that
:func:`summary_table` turns into accuracy mean ± sd per data set and strategy, and
:func:`to_markdown` into the page ``docs/benchmarks/accuracy.md``.
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

__all__ = ["BenchmarkData", "load_benchmark_data", "run_benchmark", "summary_table", "to_markdown", "PUBLISHED"]

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


def _fit_once(spec: str, seed: int, data: BenchmarkData) -> dict:
    from ..aggregate import make_strategy

    from .metrics import evaluate_labels

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
    r = evaluate_labels(model.labels_, data.truth, getattr(model, "valid_", None), n_classes=data.votes.n_classes)
    return {"accuracy": r.accuracy, "share_valid": r.share_valid, "time_s": dt, "peak_mb": peak / 2**20,
            "n_iter": getattr(model, "n_iter_", np.nan)}


def run_benchmark(datasets: Sequence[BenchmarkData], strategies: Iterable[str], seeds: Sequence[int] = (0,),
                  callback: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Fit every strategy on every data set with every seed; one row per run.

    Columns: dataset, strategy, seed, accuracy, share_valid, time_s, peak_mb, n_iter,
    error (the reason a strategy could not run, e.g. a binary-only method on K > 2).
    """
    rows = []
    for data in datasets:
        for spec in strategies:
            for seed in seeds:
                row = {"dataset": data.name, "strategy": spec, "seed": seed, **_fit_once(spec, seed, data)}
                rows.append(row)
                if callback is not None:
                    callback(row)
    cols = ["dataset", "strategy", "seed", "accuracy", "share_valid", "time_s", "peak_mb", "n_iter", "error"]
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
                share_valid=("share_valid", "mean"), time_s=("time_s", "mean"),
                peak_mb=("peak_mb", "max"), n_iter=("n_iter", "mean"), error=("error", "first"))
    out["accuracy_sd"] = out["accuracy_sd"].fillna(0.0)
    return out.reset_index()


def to_markdown(runs: pd.DataFrame, command: str, *, published: dict | None = PUBLISHED) -> str:
    """The accuracy page: accuracy per data set and strategy, the mean, and time."""
    s = summary_table(runs)
    strategies = list(dict.fromkeys(s["strategy"]))
    datasets = list(dict.fromkeys(s["dataset"]))
    n_seeds = runs["seed"].nunique()
    lines = [f"Produced by `{command}`.", "",
             f"Accuracy against the truth (mean ± sd over {n_seeds} seed{'s' if n_seeds > 1 else ''}; "
             "the sd only reflects random tie-breaking and initialisation). "
             "**Bold**: best strategy of the row among those that label every task. "
             "Strategies with a validity rule (TwoThird, PlantNet) are scored on the tasks they keep "
             "as valid, whose share is given in brackets: they are not comparable with the others.", ""]
    head = ["data set"] + strategies + (["best published"] if published else [])
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for d in datasets:
        sub = s[s["dataset"] == d].set_index("strategy")
        full = sub["error"].isna() & (sub["share_valid"] >= 1 - 1e-12)
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
                cells.append(f"**{txt}**" if r["share_valid"] >= 1 - 1e-12 and r["accuracy"] == best else txt)
        if published:
            p = published.get(d)
            cells.append(f"{p[0]:.4f} ({p[1]})" if p else "")
        lines.append("| " + " | ".join(cells) + " |")
    means = s[s["error"].isna()].groupby("strategy", sort=False)["accuracy"].mean()
    counts = s[s["error"].isna()].groupby("strategy", sort=False)["accuracy"].size()
    lines.append("| **mean** | " + " | ".join(
        f"{means.get(st, np.nan):.4f}" + (f" ({counts.get(st, 0)} sets)" if counts.get(st, 0) < len(datasets) else "")
        for st in strategies) + (" | |" if published else " |"))
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
