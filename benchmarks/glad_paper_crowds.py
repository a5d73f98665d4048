"""GLAD on the simulated crowds of the peerannot paper's tables (Computo), against MV.

Settings (5 classes, 200 tasks): independent-confusion (30 workers, 10 votes per task),
imbalanced votes (100 workers, Zipf-like activity), student-teacher (30 workers, ratio
0.8), discrete-difficulty (50 workers, ratio 0.35, ratio_diff 1, p_random 0.1); ten seeds
each. Prints mean accuracy of MV (ties at random) and of the default GLAD, and GLAD's final
objective (mean log-likelihood). Run it on two checkouts to compare a change:

    python benchmarks/glad_paper_crowds.py
    PYTHONPATH=<old checkout>/src python benchmarks/glad_paper_crowds.py
"""

from __future__ import annotations

import warnings

import numpy as np

from crowdwise.aggregate import GLAD, MajorityVote
from crowdwise.simulate import simulate

CROWDS = {
    "independent-confusion": ("independent-confusion", 30, {"feedback": 10}),
    "imbalanced votes": ("independent-confusion", 100, {"imbalance_votes": True}),
    "student-teacher": ("student-teacher", 30, {"ratio": 0.8}),
    "discrete-difficulty": ("discrete-difficulty", 50, {"ratio": 0.35, "ratio_diff": 1.0, "p_random": 0.1}),
}


def main(n_seeds: int = 10) -> None:
    warnings.simplefilter("ignore")
    print("| crowd | MV | GLAD | GLAD objective |")
    print("|---|---|---|---|")
    for name, (strategy, n_workers, options) in CROWDS.items():
        mv, glad, obj = [], [], []
        for seed in range(n_seeds):
            crowd = simulate(strategy, 200, n_workers, 5, seed=seed, **options)
            truth = np.asarray(crowd.truth)
            mv.append((MajorityVote(random_state=seed).fit(crowd.votes).labels_ == truth).mean())
            model = GLAD(random_state=0).fit(crowd.votes)
            glad.append((model.labels_ == truth).mean())
            obj.append(model.log_likelihood_[-1])
        print(f"| {name} | {np.mean(mv):.3f} | {np.mean(glad):.3f} | {np.mean(obj):.1f} |")


if __name__ == "__main__":
    main()
