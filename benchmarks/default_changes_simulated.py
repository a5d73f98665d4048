"""Strategies on simulated crowds that vary what real crowds vary, for checking a change of
default against the code before it (run once per checkout, compare the two tables).

Crowds: independent-confusion (balanced classes), a sparse crowd (many workers, few votes
each, Zipf-like activity through ``imbalance_votes``), a crowd with 30 % spammers, and a
skewed class balance (truth resampled so one class holds 70 % of the tasks, votes drawn
from the workers' confusions). Three seeds each. Prints mean accuracy per (crowd, strategy).

    python benchmarks/default_changes_simulated.py
    PYTHONPATH=<old checkout>/src python benchmarks/default_changes_simulated.py
"""

from __future__ import annotations

import warnings

import numpy as np

from crowdwise import Votes
from crowdwise.aggregate import make_strategy
from crowdwise.simulate import independent_confusion

STRATEGIES = ["MV", "WAWA", "DS", "FastDS", "GLAD", "OneCoinDS"]


def skewed(seed: int):
    """Truth with one class at 70 %, each worker answering from a confusion matrix."""
    rng = np.random.default_rng(seed)
    k, n, w, per = 4, 400, 40, 5
    truth = np.where(rng.random(n) < 0.7, 0, rng.integers(1, k, n))
    acc = rng.beta(2, 2, w) * 0.7 + 0.25
    task = np.repeat(np.arange(n), per)
    worker = np.concatenate([rng.choice(w, per, replace=False) for _ in range(n)])
    right = rng.random(task.size) < acc[worker]
    label = np.where(right, truth[task], rng.integers(0, k, task.size))
    return Votes.from_records(task, worker, label, n_classes=k), truth


def crowds(seed: int):
    for name, kw in [("balanced", dict(n_tasks=400, n_workers=40, n_classes=4, feedback=5)),
                     ("sparse", dict(n_tasks=400, n_workers=300, n_classes=4, imbalance_votes=True)),
                     ("spammers 30%", dict(n_tasks=400, n_workers=40, n_classes=4, feedback=5,
                                           spammer_fraction=0.3))]:
        sim = independent_confusion(seed=seed, **kw)
        yield name, sim.votes, sim.truth
    v, t = skewed(seed)
    yield "skewed classes", v, t


def main() -> None:
    rows: dict[tuple[str, str], list[float]] = {}
    warnings.simplefilter("ignore")
    for seed in range(3):
        for name, votes, truth in crowds(seed):
            for spec in STRATEGIES:
                lab = make_strategy(spec, random_state=0).fit(votes).labels_
                t = np.asarray(truth)
                rows.setdefault((name, spec), []).append(float((lab == t).mean()))
    names = list(dict.fromkeys(n for n, _ in rows))
    print("| crowd | " + " | ".join(STRATEGIES) + " |")
    print("|---" * (len(STRATEGIES) + 1) + "|")
    for n in names:
        print(f"| {n} | " + " | ".join(f"{np.mean(rows[n, s]):.4f}" for s in STRATEGIES) + " |")


if __name__ == "__main__":
    main()
