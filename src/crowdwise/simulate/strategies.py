r"""Synthetic crowds: the generative models of peerannot's ``simulate``, vectorised.

Every strategy shares one skeleton (Dawid & Skene, 1979): a true class per task, a set of
distinct workers per task, and a label per (task, worker) drawn from that worker's
confusion row of the true class,

.. math::

    y_i^\star \sim \mathcal{U}\{0, \dots, K-1\}, \qquad
    \mathcal{A}(i) \sim \mathcal{U}\bigl\{A \subseteq \{0..n_w-1\} : |A| = m_i\bigr\}, \qquad
    y_i^{(j)} \mid y_i^\star = k \;\sim\; \mathrm{Cat}\bigl(\pi^{(j)}_{k,\cdot}\bigr)
    \quad (j \in \mathcal{A}(i)),

independently over tasks and votes. The strategies differ in how the confusion matrices
:math:`\pi^{(j)}` (rows = true class) are drawn and in the task difficulty.

Options common to every strategy:

``feedback`` (:math:`m`)
    Votes per task; default every worker answers every task (peerannot's default).
``imbalance_votes``
    :math:`m_i \sim \mathcal{U}\{1, \dots, m\}` independently per task.
``spammer_fraction``
    :math:`\lfloor s \, n_w \rfloor` workers, chosen uniformly at random among those who
    are not spammers already (hammer-spammer has its own), answer
    :math:`\mathcal{U}\{0..K-1\}` whatever the task (even an easy one).

All randomness comes from ``seed`` (a numpy Generator; the global RNG is never touched):
the same seed and arguments give the same crowd.

References
----------
.. [DS79] Dawid, A. P. and Skene, A. M. (1979). Maximum likelihood estimation of observer
   error-rates using the EM algorithm. *Journal of the Royal Statistical Society, Series C*,
   28(1), 20-28.
.. [LCJS24] Lefort, T., Charlier, B., Joly, A. and Salmon, J. (2024). Peerannot:
   classification for crowdsourced image datasets with Python. *Computo*.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputError
from ..utils import check_random_state
from ..votes import Votes
from . import _engine
from ._engine import DIFFICULTY_NAMES, PERFECT, UNIFORM, _Crowd, n_of
from ._result import SimulationResult

__all__ = [
    "independent_confusion",
    "hammer_spammer",
    "student_teacher",
    "discrete_difficulty",
    "simulate",
    "STRATEGIES",
]

Seed = int | np.random.Generator | None


# --------------------------------------------------------------------------- validation
def _check_int(name: str, value: Any, minimum: int, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be an integer, got {value!r}", fix=fix)
    if value < minimum:
        raise InputError(f"{name} must be at least {minimum}, got {value}", fix=fix)
    return int(value)


def _check_fraction(name: str, value: Any, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not 0.0 <= v <= 1.0:  # also rejects NaN
        raise InputError(f"{name}={value!r} is not a fraction in [0, 1] ({what})",
                         fix=f"give {name} between 0 and 1")
    return v


def _check_positive(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not (v > 0 and math.isfinite(v)):
        raise InputError(f"{name} must be a positive finite number, got {value!r}",
                         fix=f"give {name} > 0")
    return v


def _check_common(n_tasks: Any, n_workers: Any, n_classes: Any, feedback: Any,
                  spammer_fraction: Any) -> tuple[int, int, int, int, float]:
    n_tasks = _check_int("n_tasks", n_tasks, 1, "simulate at least one task")
    n_workers = _check_int("n_workers", n_workers, 1, "simulate at least one worker")
    n_classes = _check_int("n_classes", n_classes, 2, "a classification needs at least 2 classes")
    if feedback is None:
        feedback = n_workers
    feedback = _check_int("feedback (votes per task)", feedback, 1, "ask for at least one vote per task")
    if feedback > n_workers:
        raise InputError(
            f"feedback={feedback} votes per task is more than the {n_workers} workers "
            "(a worker never answers a task twice)",
            fix=f"ask for at most {n_workers} votes per task, or simulate at least {feedback} workers")
    spammer_fraction = _check_fraction("spammer_fraction", spammer_fraction, "share of spammers")
    return n_tasks, n_workers, n_classes, feedback, spammer_fraction


def _seed_param(seed: Seed) -> int | str | None:
    return int(seed) if isinstance(seed, (int, np.integer)) else (None if seed is None else "Generator")


# --------------------------------------------------------------------------- skeleton
def _run(strategy: str, rng: np.random.Generator, truth: np.ndarray, n_classes: int, crowd: _Crowd,
         worker_type: np.ndarray, *, feedback: int, imbalance_votes: bool, spammer_fraction: float,
         params: dict[str, Any], difficulty: np.ndarray | None = None,
         teacher: np.ndarray | None = None, workerload: int | None = None) -> SimulationResult:
    """Spammer overlay, votes per task (each worker under its workerload), the engine, and the result."""
    n_tasks, n_workers = truth.size, crowd.kind.size
    if workerload is not None:
        workerload = _check_int("workerload (tasks per worker)", workerload, 1,
                                "let each worker answer at least one task, or leave workerload out")
        params = {**params, "workerload": workerload}
    candidates = np.flatnonzero(crowd.kind != UNIFORM)
    n_spam = min(n_of(spammer_fraction, n_workers), candidates.size)
    if n_spam:
        spam = rng.choice(candidates, size=n_spam, replace=False)
        crowd.kind[spam] = UNIFORM
        worker_type = worker_type.astype(object)
        worker_type[spam] = "spammer"
        worker_type = worker_type.astype(str)
    if workerload is not None and workerload < n_tasks:
        assignment = _engine.assign_capped(rng, n_workers, n_tasks, feedback, workerload, imbalance_votes)
        task, worker, label, confusions = _engine.run(rng, truth, n_classes, crowd, None, difficulty, assignment)
    else:
        if imbalance_votes:
            per_task = rng.integers(1, feedback + 1, size=n_tasks)
        else:
            per_task = np.full(n_tasks, feedback, dtype=np.int64)
        task, worker, label, confusions = _engine.run(rng, truth, n_classes, crowd, per_task, difficulty)
    votes = Votes(task=task, worker=worker, label=label, task_ids=np.arange(n_tasks),
                  worker_ids=np.arange(n_workers), classes=np.arange(n_classes), name=strategy)
    return SimulationResult(
        votes=votes, truth=truth, strategy=strategy, params=params, worker_type=worker_type,
        confusions=confusions,
        task_difficulty=None if difficulty is None else DIFFICULTY_NAMES[difficulty],
        teacher=teacher)


def _base_params(n_tasks: int, n_workers: int, n_classes: int, feedback: int, imbalance_votes: bool,
                 spammer_fraction: float, seed: Seed, **extra: Any) -> dict[str, Any]:
    return dict(n_tasks=n_tasks, n_workers=n_workers, n_classes=n_classes, feedback=feedback,
                imbalance_votes=bool(imbalance_votes), spammer_fraction=spammer_fraction,
                seed=_seed_param(seed), **extra)


# --------------------------------------------------------------------------- strategies
def independent_confusion(n_tasks: int, n_workers: int, n_classes: int, *, feedback: int | None = None,
                          imbalance_votes: bool = False, spammer_fraction: float = 0.0,
                          confusions: np.ndarray | None = None, concentration: float = 1.0,
                          workerload: int | None = None, seed: Seed = 0) -> SimulationResult:
    r"""Workers with independent, diagonally dominant confusion matrices.

    Each row of each worker's matrix is drawn from a symmetric Dirichlet law, then its
    true-class entry is exchanged with its largest entry, so the right answer is always
    the most likely one (peerannot's ``independent-confusion``):

    .. math::

        \tilde\pi^{(j)}_{k,\cdot} \sim \mathrm{Dir}(\alpha \mathbf 1_K), \qquad
        \pi^{(j)}_{k,\cdot} = \tilde\pi^{(j)}_{k,\cdot} \circ \tau_{k,\,\arg\max_l \tilde\pi^{(j)}_{k,l}},

    where :math:`\tau_{a,b}` exchanges entries :math:`a` and :math:`b`. Votes then follow
    the Dawid & Skene model of the module docstring.

    Parameters
    ----------
    n_tasks, n_workers, n_classes : int
        Sizes (``n_classes >= 2``).
    feedback : int, optional
        Votes per task (distinct workers); default ``n_workers`` (everyone answers all).
    imbalance_votes : bool
        Votes per task uniform in ``1..feedback`` instead of exactly ``feedback``.
    workerload : int, optional
        Each worker answers at most this many tasks (peerannot's ``--workerload``): tasks
        are served in order, each from the workers still under their load (uniformly),
        so later tasks get fewer than ``feedback`` votes once workers run out, and a task
        left with no worker is an error. Default: no limit.
    spammer_fraction : float in [0, 1]
        Share of workers (floor) replaced by spammers answering uniformly at random.
    confusions : ndarray of shape (n_workers, K, K), optional
        Use these matrices instead of drawing them (peerannot's ``--matrix-file``).
        Rows must be probability vectors.
    concentration : float
        Dirichlet concentration :math:`\alpha` (peerannot: 1). Smaller values give
        sharper rows, i.e. better workers.
    seed : int, Generator or None

    Returns
    -------
    SimulationResult
        With ``worker_type`` ``"confusion"`` (or ``"spammer"``) and ``confusions``.

    References
    ----------
    Dawid & Skene (1979); Lefort et al., *Peerannot*, Computo (2024).

    Examples
    --------
    >>> from crowdwise.simulate import independent_confusion
    >>> sim = independent_confusion(100, 8, 3, feedback=4, seed=1)
    >>> sim
    SimulationResult(strategy='independent-confusion', n_tasks=100, n_workers=8, n_classes=3, n_votes=400)
    >>> c = sim.confusions
    >>> bool((c.argmax(axis=2) == range(3)).all())   # the truth is each row's mode
    True
    """
    n_tasks, n_workers, n_classes, feedback, spammer_fraction = _check_common(
        n_tasks, n_workers, n_classes, feedback, spammer_fraction)
    concentration = _check_positive("concentration", concentration)
    rng = check_random_state(seed)
    crowd = _Crowd.independent(n_workers, concentration)
    if confusions is not None:
        crowd.given = _check_confusions(confusions, n_workers, n_classes)
    truth = rng.integers(0, n_classes, size=n_tasks)
    params = _base_params(n_tasks, n_workers, n_classes, feedback, imbalance_votes, spammer_fraction, seed,
                          concentration=concentration, confusions_given=confusions is not None)
    return _run("independent-confusion", rng, truth, n_classes, crowd, np.full(n_workers, "confusion"),
                feedback=feedback, imbalance_votes=imbalance_votes, spammer_fraction=spammer_fraction,
                params=params, workerload=workerload)


def hammer_spammer(n_tasks: int, n_workers: int, n_classes: int, *, ratio: float = 0.1,
                   feedback: int | None = None, imbalance_votes: bool = False, spammer_fraction: float = 0.0,
                   workerload: int | None = None, seed: Seed = 0) -> SimulationResult:
    r"""Hammers always answer right, spammers answer uniformly at random.

    peerannot's default strategy: the last :math:`\lfloor r\, n_w \rfloor` workers are
    spammers (:math:`\pi^{(j)} = \tfrac1K \mathbf 1 \mathbf 1^\top`), the others hammers
    (:math:`\pi^{(j)} = I_K`).

    Parameters
    ----------
    ratio : float in [0, 1]
        Share of spammers (peerannot's ``--ratio``).
    n_tasks, n_workers, n_classes, feedback, imbalance_votes, spammer_fraction, workerload, seed
        As in :func:`independent_confusion` (``spammer_fraction`` turns that share of
        workers, chosen at random among the hammers, into further spammers).

    References
    ----------
    Lefort et al., *Peerannot*, Computo (2024).

    Examples
    --------
    >>> from crowdwise.simulate import hammer_spammer
    >>> sim = hammer_spammer(50, 10, 4, ratio=0.3, seed=0)
    >>> sim.worker_type.tolist().count("spammer")
    3
    >>> v = sim.votes
    >>> bool((v.label[v.worker < 7] == sim.truth[v.task[v.worker < 7]]).all())
    True
    """
    n_tasks, n_workers, n_classes, feedback, spammer_fraction = _check_common(
        n_tasks, n_workers, n_classes, feedback, spammer_fraction)
    ratio = _check_fraction("ratio", ratio, "share of spammers")
    rng = check_random_state(seed)
    n_spam = n_of(ratio, n_workers)
    crowd = _Crowd.independent(n_workers, 1.0, swap=False)
    crowd.kind[:] = PERFECT
    crowd.kind[n_workers - n_spam:] = UNIFORM
    worker_type = np.where(np.arange(n_workers) < n_workers - n_spam, "hammer", "spammer")
    truth = rng.integers(0, n_classes, size=n_tasks)
    params = _base_params(n_tasks, n_workers, n_classes, feedback, imbalance_votes, spammer_fraction, seed,
                          ratio=ratio)
    return _run("hammer-spammer", rng, truth, n_classes, crowd, worker_type, feedback=feedback,
                imbalance_votes=imbalance_votes, spammer_fraction=spammer_fraction, params=params,
                workerload=workerload)


def student_teacher(n_tasks: int, n_workers: int, n_classes: int, *, ratio: float = 0.1,
                    feedback: int | None = None, imbalance_votes: bool = False, spammer_fraction: float = 0.0,
                    concentration: float = 1.0, workerload: int | None = None, seed: Seed = 0) -> SimulationResult:
    r"""Students share the confusion matrix of a teacher: correlated mistakes.

    As in peerannot, ``ratio`` is the share of **students**: the first
    :math:`n_t = n_w - \lfloor r\, n_w \rfloor` workers are teachers with matrices drawn
    as in :func:`independent_confusion`; each student :math:`s` follows a teacher
    :math:`t(s) \sim \mathcal U\{0..n_t-1\}` and answers with that teacher's matrix,

    .. math::

        \pi^{(s)} = \pi^{(t(s))}.

    A student still answers each task independently given the truth, so students and
    teacher make the same *kind* of mistakes, at the same rates.

    Parameters
    ----------
    ratio : float in [0, 1)
        Share of students (peerannot's ``--ratio``). At least one teacher is needed.
    concentration : float
        Dirichlet concentration of the teachers' rows.
    n_tasks, n_workers, n_classes, feedback, imbalance_votes, spammer_fraction, workerload, seed
        As in :func:`independent_confusion`. A teacher turned spammer still passes its
        original matrix on to its students.

    Returns
    -------
    SimulationResult
        ``worker_type`` is ``"teacher"``/``"student"`` (or ``"spammer"``) and ``teacher``
        gives each student's teacher (-1 for the others).

    References
    ----------
    Lefort et al., *Peerannot*, Computo (2024).

    Examples
    --------
    >>> from crowdwise.simulate import student_teacher
    >>> sim = student_teacher(30, 10, 3, ratio=0.4, seed=0)
    >>> sim.worker_type.tolist().count("student"), int((sim.teacher >= 0).sum())
    (4, 4)
    >>> s = 9; bool((sim.confusions[s] == sim.confusions[sim.teacher[s]]).all())
    True
    """
    n_tasks, n_workers, n_classes, feedback, spammer_fraction = _check_common(
        n_tasks, n_workers, n_classes, feedback, spammer_fraction)
    ratio = _check_fraction("ratio", ratio, "share of students")
    concentration = _check_positive("concentration", concentration)
    n_student = n_of(ratio, n_workers)
    n_teacher = n_workers - n_student
    if n_teacher < 1:
        raise InputError(f"ratio={ratio} makes all {n_workers} workers students, with no teacher to follow",
                         fix=f"use ratio < {1 - 1 / n_workers:.4g}, or more workers")
    rng = check_random_state(seed)
    truth = rng.integers(0, n_classes, size=n_tasks)
    following = rng.integers(0, n_teacher, size=n_student)
    crowd = _Crowd.independent(n_workers, concentration)
    crowd.source[n_teacher:] = following
    teacher = np.full(n_workers, -1, dtype=np.int64)
    teacher[n_teacher:] = following
    worker_type = np.where(np.arange(n_workers) < n_teacher, "teacher", "student")
    params = _base_params(n_tasks, n_workers, n_classes, feedback, imbalance_votes, spammer_fraction, seed,
                          ratio=ratio, concentration=concentration)
    return _run("student-teacher", rng, truth, n_classes, crowd, worker_type, feedback=feedback,
                imbalance_votes=imbalance_votes, spammer_fraction=spammer_fraction, params=params,
                workerload=workerload,
                teacher=teacher)


def discrete_difficulty(n_tasks: int, n_workers: int, n_classes: int, *, ratio: float = 0.1,
                        ratio_diff: float = 1.0, p_random: float = 0.0, feedback: int | None = None,
                        imbalance_votes: bool = False, spammer_fraction: float = 0.0,
                        good_concentration: float = 0.2, bad_concentration: float = 5.0,
                        workerload: int | None = None, seed: Seed = 0) -> SimulationResult:
    r"""Good and bad workers facing easy, hard and (optionally) random tasks.

    Following peerannot's ``discrete-difficulty``: the first :math:`\lfloor r\, n_w
    \rfloor` workers are *good*, with sharp diagonally dominant rows (Dirichlet
    :math:`\alpha_g = 0.2`, diagonal exchanged with the row maximum); the others are
    *bad*, with near-uniform rows (Dirichlet :math:`\alpha_b = 5`, no exchange). Each task
    is independently

    .. math::

        d_i \in \{\text{easy}, \text{hard}, \text{random}\}, \qquad
        P(\text{easy}) = \rho\,\frac{1-p}{\rho+1}, \quad
        P(\text{hard}) = \frac{1-p}{\rho+1}, \quad P(\text{random}) = p,

    with :math:`\rho` = ``ratio_diff`` (odds of easy against hard) and :math:`p` =
    ``p_random``. Then :math:`y_i^{(j)} = y_i^\star` on an easy task (everyone is right),
    :math:`y_i^{(j)} \sim \mathcal U\{0..K-1\}` on a random task (nobody can tell), and
    :math:`y_i^{(j)} \sim \mathrm{Cat}(\pi^{(j)}_{y_i^\star,\cdot})` on a hard one.

    Parameters
    ----------
    ratio : float in [0, 1]
        Share of good workers (peerannot's ``--ratio``).
    ratio_diff : float >= 0
        Odds of an easy task against a hard one (peerannot's ``--ratio-diff``; 1 gives
        as many easy as hard tasks, 0 only hard ones).
    p_random : float in [0, 1]
        Probability that a task is "random" (peerannot's ``--random``).
    good_concentration, bad_concentration : float
        Dirichlet concentrations of good and bad workers' rows (peerannot: 0.2 and 5).
    n_tasks, n_workers, n_classes, feedback, imbalance_votes, spammer_fraction, workerload, seed
        As in :func:`independent_confusion`. Spammers answer at random even easy tasks.

    Returns
    -------
    SimulationResult
        ``worker_type`` is ``"good"``/``"bad"`` (or ``"spammer"``), ``task_difficulty``
        holds ``"easy"``/``"hard"``/``"random"``; ``confusions`` apply to hard tasks.

    References
    ----------
    Lefort et al., *Peerannot*, Computo (2024); Dawid & Skene (1979).

    Examples
    --------
    >>> from crowdwise.simulate import discrete_difficulty
    >>> sim = discrete_difficulty(200, 6, 3, ratio=0.5, ratio_diff=3.0, seed=0)
    >>> v = sim.votes
    >>> easy = sim.task_difficulty[v.task] == "easy"
    >>> bool((v.label[easy] == sim.truth[v.task[easy]]).all())
    True
    """
    n_tasks, n_workers, n_classes, feedback, spammer_fraction = _check_common(
        n_tasks, n_workers, n_classes, feedback, spammer_fraction)
    ratio = _check_fraction("ratio", ratio, "share of good workers")
    p_random = _check_fraction("p_random", p_random, "probability of a random task")
    try:
        rho = float(ratio_diff)
    except (TypeError, ValueError):
        rho = math.nan
    if not (rho >= 0 and math.isfinite(rho)):
        raise InputError(f"ratio_diff={ratio_diff!r} must be a finite number >= 0 (odds of easy against hard tasks)",
                         fix="give ratio_diff >= 0: 1 for as many easy as hard tasks, 0 for hard tasks only")
    good_concentration = _check_positive("good_concentration", good_concentration)
    bad_concentration = _check_positive("bad_concentration", bad_concentration)
    rng = check_random_state(seed)
    truth = rng.integers(0, n_classes, size=n_tasks)
    p_hard = (1.0 - p_random) / (rho + 1.0)
    probs = np.array([p_hard, rho * p_hard, p_random])  # codes HARD, EASY, RANDOM
    difficulty = rng.choice(3, size=n_tasks, p=probs / probs.sum()).astype(np.int8)
    n_good = n_of(ratio, n_workers)
    good = np.arange(n_workers) < n_good
    crowd = _Crowd.independent(n_workers, 1.0)
    crowd.alpha = np.where(good, good_concentration, bad_concentration)
    crowd.swap = good.copy()
    worker_type = np.where(good, "good", "bad")
    params = _base_params(n_tasks, n_workers, n_classes, feedback, imbalance_votes, spammer_fraction, seed,
                          ratio=ratio, ratio_diff=rho, p_random=p_random,
                          good_concentration=good_concentration, bad_concentration=bad_concentration)
    return _run("discrete-difficulty", rng, truth, n_classes, crowd, worker_type, feedback=feedback,
                imbalance_votes=imbalance_votes, spammer_fraction=spammer_fraction, params=params,
                workerload=workerload,
                difficulty=difficulty)


# --------------------------------------------------------------------------- helpers
def _check_confusions(confusions: Any, n_workers: int, n_classes: int) -> np.ndarray:
    c = np.asarray(confusions, dtype=float)
    if c.shape != (n_workers, n_classes, n_classes):
        raise InputError(
            f"confusion matrices have shape {c.shape}, expected (n_workers, K, K) = "
            f"{(n_workers, n_classes, n_classes)}",
            fix="give one K x K matrix per worker (rows = true class), or change n_workers / n_classes")
    if not np.isfinite(c).all() or (c < 0).any():
        raise InputError("confusion matrices hold negative or non-finite entries",
                         fix="give probabilities (each row >= 0, summing to 1)")
    s = c.sum(axis=2)
    bad = np.abs(s - 1.0) > 1e-6
    if bad.any():
        j, k = (int(x) for x in np.argwhere(bad)[0])
        raise InputError(f"row {k} of the confusion matrix of worker {j} sums to {s[j, k]:.6g}, not 1",
                         position=f"worker {j}, true class {k}",
                         fix="normalise every row to sum to 1 (rows = true class)")
    return c / s[..., None]


#: CLI names of the strategies.
STRATEGIES: dict[str, Callable[..., SimulationResult]] = {
    "independent-confusion": independent_confusion,
    "hammer-spammer": hammer_spammer,
    "student-teacher": student_teacher,
    "discrete-difficulty": discrete_difficulty,
}


def simulate(strategy: str, n_tasks: int, n_workers: int, n_classes: int, **options: Any) -> SimulationResult:
    """Run a strategy by its CLI name (``"independent-confusion"``, ``"student-teacher"``...).

    Examples
    --------
    >>> simulate("hammer-spammer", 10, 3, 2, ratio=0.0).votes.n_votes
    30
    """
    key = str(strategy).lower().replace("_", "-")
    if key not in STRATEGIES:
        raise InputError(f"unknown simulation strategy {strategy!r}",
                         fix=f"use one of {', '.join(STRATEGIES)}")
    return STRATEGIES[key](n_tasks, n_workers, n_classes, **options)
