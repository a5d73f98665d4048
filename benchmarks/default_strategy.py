"""The evidence behind the default strategy (``auto``): every candidate on the 16 open
data sets and on sparse simulated crowds, against majority vote.

The rule (issue "a default users can trust"): the default is the strategy with the best
mean accuracy over the open sets among those never more than 0.5 point below majority
vote on any open set nor on any sparse simulated crowd. Majority vote is the library's
default ``MV`` (ties at random), averaged over 3 seeds; ``MV[tie=smallest]`` is shown too.

Sparse crowds: ``n_tasks`` tasks, ``per_task`` votes each, drawn without replacement from
``n_workers`` workers whose activity follows a Zipf law (weight ``1 / rank^zipf``, ranks
shuffled), so most workers give 1-10 votes and a few give hundreds; each worker's
accuracy is Beta(2, 2) (for two classes ``0.5 + 0.5 Beta(2, 2)``, else half the crowd
would be adversarial and no method could recover anything), its errors spread over the
other classes by a Dirichlet(1) draw per (worker, true class); class shares uniform, or
one class (drawn at random) holding 60 % of the tasks.

    python benchmarks/default_strategy.py            # both tables (about 3 minutes)
    python benchmarks/default_strategy.py --sim-only
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from crowdwise import Votes
from crowdwise.aggregate import make_strategy
from crowdwise.io import load_truth, load_votes

ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
CANDIDATES = ["MV[tie=smallest]", "WAWA", "DS", "FastDS", "HybridDS", "OneCoinDS", "GLAD", "MACE", "DSWC[L=5]",
              "IBCC", "EBCC", "auto"]
SPARSE = [dict(k=3), dict(k=5), dict(k=2), dict(k=3, skew=True), dict(k=5, per_task=3),
          dict(k=3, zipf=0.7, n_workers=2000), dict(k=5, per_task=10, n_workers=3000),
          dict(k=8, per_task=5, n_workers=2000)]


def sparse_crowd(seed: int, n_tasks: int = 500, k: int = 3, n_workers: int = 1000, per_task: int = 5,
                 zipf: float = 1.0, skew: bool = False) -> tuple[Votes, np.ndarray]:
    """A sparse crowd (see the module docstring) and its truth."""
    rng = np.random.default_rng(seed)
    shares = np.full(k, 1.0 / k) if not skew else rng.permutation(np.r_[0.6, np.full(k - 1, 0.4 / (k - 1))])
    truth = rng.choice(k, n_tasks, p=shares)
    activity = 1.0 / np.arange(1, n_workers + 1) ** zipf
    activity = activity[rng.permutation(n_workers)]
    activity /= activity.sum()
    acc = rng.beta(2, 2, n_workers)
    if k == 2:
        acc = 0.5 + 0.5 * acc
    # errors: a Dirichlet(1) spread over the K - 1 wrong classes, per worker and true class
    wrong_cdf = np.cumsum(rng.dirichlet(np.ones(k - 1), size=(n_workers, k)), axis=2)
    task = np.repeat(np.arange(n_tasks), per_task)
    gumbel = np.log(activity)[None, :] + rng.gumbel(size=(n_tasks, n_workers))  # top-k = draws without replacement
    worker = np.argpartition(-gumbel, per_task, axis=1)[:, :per_task].ravel()
    t = truth[task]
    right = rng.random(task.size) < acc[worker]
    u = rng.random(task.size)[:, None]
    wrong = (u > wrong_cdf[worker, t]).sum(axis=1)
    wrong = np.minimum(wrong, k - 2)
    wrong = np.where(wrong >= t, wrong + 1, wrong)
    label = np.where(right, t, wrong)
    return Votes.from_records(task, worker, label, n_classes=k), truth


def accuracy(spec: str, votes: Votes, truth: np.ndarray, seeds: int = 1) -> float:
    known = truth >= 0
    return float(np.mean([(make_strategy(spec, random_state=s).fit(votes).labels_ == truth)[known].mean()
                          for s in range(seeds)]))


def run(crowds, candidates) -> dict[str, dict[str, float]]:
    """Accuracy of MV and each candidate on each crowd (a crowd: a name and a list of
    (votes, truth) replicates, whose accuracies are averaged)."""
    rows: dict[str, dict[str, float]] = {}
    for name, replicates in crowds:
        row = {"MV": np.mean([accuracy("MV", v, t, seeds=3) for v, t in replicates])}
        for spec in candidates:
            row[spec] = float(np.mean([accuracy(spec, v, t) for v, t in replicates]))
        rows[name] = row
        print(f"  {name}: " + " ".join(f"{s}={a:.4f}" for s, a in row.items()), file=sys.stderr, flush=True)
    return rows


def table(title: str, rows: dict[str, dict[str, float]], candidates, *, baseline: str = "MV",
          heading: str = "### {}", best: bool = False) -> None:
    """Markdown table of accuracies (a row per crowd, a column per strategy), with the mean
    and the worst (and, with ``best``, the best) gap to the ``baseline`` column in points."""
    cols = list(dict.fromkeys([baseline, *candidates]))
    print("\n" + heading.format(title) + "\n")
    print("| crowd | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{row[c]:.4f}" for c in cols) + " |")
    mean = {c: np.mean([r[c] for r in rows.values()]) for c in cols}
    print("| **mean** | " + " | ".join(f"{mean[c]:.4f}" for c in cols) + " |")
    gaps = {c: [r[c] - r[baseline] for r in rows.values()] for c in cols}
    print(f"| **worst gap to {baseline} (points)** | " + " | ".join(f"{100 * min(gaps[c]):+.1f}" for c in cols) + " |")
    if best:
        print(f"| **best gap to {baseline} (points)** | " + " | ".join(f"{100 * max(gaps[c]):+.1f}" for c in cols)
              + " |")


def real_crowds():
    for folder in sorted(p for p in ROOT.iterdir() if (p / "votes.csv").is_file()):
        votes = load_votes(folder / "votes.csv")
        truth_file = next(p for p in (folder / "truth.csv", folder / "ground_truth.npy") if p.exists())
        yield folder.name, [(votes, load_truth(truth_file, votes))]


def simulated_crowds(n_seeds: int = 3):
    for cfg in SPARSE:
        yield ", ".join(f"{k}={v}" for k, v in cfg.items()), [sparse_crowd(seed, **cfg) for seed in range(n_seeds)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim-only", action="store_true")
    ap.add_argument("-s", "--strategies", default=",".join(CANDIDATES), help="comma-separated candidates")
    args = ap.parse_args()
    candidates = [s.strip() for s in args.strategies.split(",") if s.strip()]
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    if not args.sim_only:
        table("16 open data sets", run(real_crowds(), candidates), candidates)
    table("sparse simulated crowds (mean of 3 seeds per row)", run(simulated_crowds(), candidates), candidates)
    print(f"\n({time.perf_counter() - t0:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
