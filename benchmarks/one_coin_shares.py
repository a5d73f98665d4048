"""OneCoinDS's class shares (issue 16): rules for ``rho`` compared on the 16 open data sets
and on simulated crowds, without ever reading a set's truth to choose.

Rules (every one but ``oracle`` is computed without truth):

- ``uniform``: the current default (``fit_priors=False``), uniform over the voted classes;
- ``ml``: ``fit_priors=True``, the one-coin model's maximum likelihood;
- ``oracle``: the *true* class shares of the crowd plugged in (a reference, not a rule:
  what a perfect estimate of the shares would give the one-coin posterior);
- ``ebds``: the shares learnt by EBDS (per-worker full confusions shrunk toward a
  one-coin population: a model that can tell a crowd's over-use of a class from class
  imbalance), plugged into OneCoinDS;
- ``dirichlet``: ``rho_k ∝ sum_i T_ik + n_tasks / K`` (a symmetric Dirichlet prior worth
  as many pseudo-tasks as there are tasks: the learnt shares pulled half-way to uniform);
- ``gate``: learn the shares (``ml``) only when the one-coin model fits the crowd's
  population confusion: a G-test of ``N[k, l] = sum_{votes (i, j, l)} T_ik`` (the ML
  fit's posteriors) against its one-coin expectation ``n_k (a if l = k else (1 - a) /
  (K - 1))`` (``n_k = sum_l N[k, l]``, ``a`` the pooled accuracy), ``K (K - 1) - 1``
  degrees of freedom, level 5 %; uniform shares otherwise;
- ``gate_ebds``: the same test on EBDS's posteriors instead of the ML fit's (EBDS can
  express a crowd's over-use of a class, so its posteriors do not absorb it into the
  shares; not a candidate at Pl@ntNet scale: EBDS holds n_workers x K x K confusions).

Plug-in rules run OneCoinDS's EM with the shares held fixed (only the accuracies learnt).

Crowds: (a) the 16 open sets; (b) imbalanced truth, workers of the one-coin kind (errors
spread uniformly over the wrong classes), many workers; (c) crowds that over-use one class
(class-dependent accuracies, or a share of the errors sent to one class), balanced or
imbalanced truth; (d) the sparse crowds of ``benchmarks/default_strategy.py``. Simulated
rows: mean of 3 seeds.

    python benchmarks/one_coin_shares.py             # all four tables (about 3 minutes on 2 cores)
    python benchmarks/one_coin_shares.py --sim-only
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))

import default_strategy  # noqa: E402
from default_strategy import SPARSE, real_crowds, sparse_crowd  # noqa: E402

from crowdwise import Votes
from crowdwise.aggregate import EBDS, OneCoinDS

RULES = ["uniform", "ml", "oracle", "ebds", "dirichlet", "gate", "gate_ebds"]


class _FixedShares(OneCoinDS):
    """OneCoinDS whose class shares are given (``shares``) and never re-estimated."""

    def __init__(self, shares=None, **kw):
        super().__init__(**kw)
        self.shares = shares

    def _m_step(self, votes, c, s):
        _, acc = super()._m_step(votes, c, s)
        return np.asarray(self.shares, float), acc


class _Dirichlet(OneCoinDS):
    """``rho_k ∝ sum_i T_ik + alpha`` with ``alpha = n_tasks / K`` (the ML update plus pseudo-tasks)."""

    def _m_step(self, votes, c, s):
        priors, acc = super()._m_step(votes, c, s)  # fit_priors=True: priors = sum_i T_ik / n_voted
        n_voted = c.voted.size
        k = votes.n_classes
        return (priors * n_voted + n_voted / k) / (2 * n_voted), acc


def _dense(m) -> np.ndarray:
    return m.probas_ if isinstance(m.probas_, np.ndarray) else m.probas_.toarray()


def one_coin_misfit(votes: Votes, m) -> float:
    """p-value of the G-test of the population confusion of a fit against the one-coin form."""
    k = votes.n_classes
    P = _dense(m)
    N = np.zeros((k, k))
    for l in range(k):
        N[:, l] = P[votes.task[votes.label == l]].sum(axis=0)
    n_k = N.sum(axis=1)
    a = np.trace(N) / N.sum()
    E = n_k[:, None] * np.where(np.eye(k, dtype=bool), a, (1 - a) / (k - 1))
    ok = N > 0
    g = 2 * float(np.sum(N[ok] * np.log(N[ok] / E[ok])))
    return float(stats.chi2.sf(g, k * (k - 1) - 1))


def rule_labels(rule: str, votes: Votes, truth: np.ndarray, seed: int = 0) -> np.ndarray:
    kw = dict(random_state=seed, probas="full")
    if rule == "uniform":
        return OneCoinDS(**kw).fit(votes).labels_
    if rule == "ml":
        return OneCoinDS(fit_priors=True, **kw).fit(votes).labels_
    if rule == "oracle":
        known = truth >= 0
        shares = np.bincount(truth[known], minlength=votes.n_classes) / known.sum()
        return _FixedShares(shares=shares, **kw).fit(votes).labels_
    if rule == "ebds":
        return _FixedShares(shares=EBDS(random_state=seed).fit(votes).priors_, **kw).fit(votes).labels_
    if rule == "dirichlet":
        return _Dirichlet(fit_priors=True, **kw).fit(votes).labels_
    if rule == "gate":
        m = OneCoinDS(fit_priors=True, **kw).fit(votes)
        return m.labels_ if one_coin_misfit(votes, m) >= 0.05 else OneCoinDS(**kw).fit(votes).labels_
    if rule == "gate_ebds":
        fits = one_coin_misfit(votes, EBDS(random_state=seed).fit(votes)) >= 0.05
        return OneCoinDS(fit_priors=fits, **kw).fit(votes).labels_
    raise ValueError(rule)


def crowd(seed: int, k: int = 2, shares=None, n_tasks: int = 1000, n_workers: int = 200, per_task: int = 5,
          shift=None, bias: float = 0.0, bias_class: int = 0) -> tuple[Votes, np.ndarray]:
    """``n_tasks`` tasks, ``per_task`` distinct workers each drawn uniformly from ``n_workers``.
    Worker j's accuracy ``p_j``: Beta(2, 2) (two classes: ``0.5 + 0.5 Beta(2, 2)``), plus
    ``shift[k]`` on tasks of class k (class-dependent accuracies); a wrong answer goes to
    ``bias_class`` with probability ``bias``, else uniformly to another class."""
    rng = np.random.default_rng(seed)
    shares = np.full(k, 1.0 / k) if shares is None else np.asarray(shares, float)
    truth = rng.choice(k, n_tasks, p=shares)
    p = rng.beta(2, 2, n_workers)
    if k == 2:
        p = 0.5 + 0.5 * p
    task = np.repeat(np.arange(n_tasks), per_task)
    worker = np.argsort(rng.random((n_tasks, n_workers)), axis=1)[:, :per_task].ravel()
    t = truth[task]
    pv = p[worker] if shift is None else np.clip(p[worker] + np.asarray(shift, float)[t], 0.02, 0.98)
    right = rng.random(task.size) < pv
    uniform_wrong = (t + rng.integers(1, k, task.size)) % k
    wrong = np.where((rng.random(task.size) < bias) & (t != bias_class), bias_class, uniform_wrong)
    return Votes.from_records(task, worker, np.where(right, t, wrong), n_classes=k), truth


IMBALANCED = [  # (b): one-coin workers, imbalanced truth
    ("K=2 70/30", dict(k=2, shares=[.7, .3])),
    ("K=2 85/15", dict(k=2, shares=[.85, .15])),
    ("K=2 85/15, 10 votes/task, 100 workers", dict(k=2, shares=[.85, .15], per_task=10, n_workers=100)),
    ("K=2 85/15, 3 votes/task, 1000 workers", dict(k=2, shares=[.85, .15], per_task=3, n_workers=1000)),
    ("K=4 70/10/10/10", dict(k=4, shares=[.7, .1, .1, .1])),
    ("K=4 40/30/20/10", dict(k=4, shares=[.4, .3, .2, .1])),
    ("K=8 50 % one class", dict(k=8, shares=[.5] + [.5 / 7] * 7)),
]
BIASED = [  # (c): the crowd over-uses one class
    ("K=2 50/50, acc +-.1 by class", dict(k=2, shift=[.1, -.1])),
    ("K=2 50/50, acc +-.2 by class", dict(k=2, shift=[.2, -.2])),
    ("K=2 70/30, over-uses the majority", dict(k=2, shares=[.7, .3], shift=[.1, -.1])),
    ("K=2 70/30, over-uses the minority", dict(k=2, shares=[.7, .3], shift=[-.1, .1])),
    ("K=4 uniform, 60 % of errors to class 0", dict(k=4, bias=.6)),
    ("K=4 70/10/10/10, 60 % of errors to class 1", dict(k=4, shares=[.7, .1, .1, .1], bias=.6, bias_class=1)),
    ("K=4 40/30/20/10, 60 % of errors to class 0", dict(k=4, shares=[.4, .3, .2, .1], bias=.6)),
]


def run(crowds, rules) -> dict[str, dict[str, float]]:
    rows = {}
    for name, replicates in crowds:
        row = {}
        for rule in rules:
            accs = []
            for v, t in replicates:
                known = t >= 0
                accs.append(float((rule_labels(rule, v, t) == t)[known].mean()))
            row[rule] = float(np.mean(accs))
        rows[name] = row
        print(f"  {name}: " + " ".join(f"{r}={a:.4f}" for r, a in row.items()), file=sys.stderr, flush=True)
    return rows


def table(title: str, rows, rules) -> None:
    default_strategy.table(title, rows, rules, baseline="uniform", heading="**{}**", best=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim-only", action="store_true")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("-r", "--rules", default=",".join(RULES))
    args = ap.parse_args()
    rules = [r.strip() for r in args.rules.split(",") if r.strip()]
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    seeds = range(args.seeds)
    if not args.sim_only:
        table("(a) 16 open data sets", run(real_crowds(), rules), rules)
    table("(b) imbalanced truth, one-coin workers (1000 tasks, 5 votes/task, 200 workers unless said)",
          run(((n, [crowd(s, **kw) for s in seeds]) for n, kw in IMBALANCED), rules), rules)
    table("(c) crowds that over-use one class (1000 tasks, 5 votes/task, 200 workers)",
          run(((n, [crowd(s, **kw) for s in seeds]) for n, kw in BIASED), rules), rules)
    table("(d) sparse crowds of benchmarks/default_strategy.py (500 tasks)",
          run(((", ".join(f"{k}={v}" for k, v in cfg.items()), [sparse_crowd(s, **cfg) for s in seeds])
               for cfg in SPARSE), rules), rules)
    print(f"\n({time.perf_counter() - t0:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
