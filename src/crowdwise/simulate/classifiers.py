r"""Classifiers as workers: a crowd of scikit-learn models, each trained on its own part of
a feature set, labelling the tasks.

The crowd of Lefort et al. (TMLR 2024) and of T. Lefort's thesis (2024, chapter "Identify
ambiguous tasks", three circles and two moons): worker :math:`j` is a classifier
:math:`f_j` fitted on labelled points :math:`(X^{(j)}, y^{(j)})` and its vote on task
:math:`i` is its prediction,

.. math::

    y_i^{(j)} = f_j(x_i).

Its mistakes are not independent draws but systematic: they sit where its model class
cannot follow the classes' boundary (a linear SVC on circles) or where its training part
was thin, which makes ambiguous tasks (points near a boundary) ambiguous for the crowd as
for a human one.

Feature sets

``"two-moons"``, ``"three-circles"`` (generated)
    ``n_tasks`` points are drawn for the tasks (plus ``n_test`` held-out points), and each
    worker is fitted on its **own fresh draw** of ``n_fit`` points of the same
    distribution (default ``n_fit = n_tasks``): a worker does not learn from the tasks it
    labels (fitted on them, gradient boosting would be right on 99% of them).
a matrix ``X`` of shape ``(n, d)`` with ``truth`` (the user's features)
    The rows are the tasks. The rows are shuffled and cut into one part per worker
    (``n_fit`` rows each, default ``n // n_workers``: disjoint parts; when
    ``n_fit * n_workers > n``, each worker draws its own ``n_fit`` rows, parts overlap);
    worker :math:`j` is fitted on its part and does not vote on it (``exclude_own_part``).

Classifiers are named (:data:`CLASSIFIERS`) or given as scikit-learn estimators (cloned
before fitting); a list shorter than ``n_workers`` is repeated in turn, each copy fitted
on its own part. The thesis' three workers, the default, are a linear SVC, an SVC with an
RBF kernel and gradient boosting.

scikit-learn is needed (``pip install "crowdwise[simulate]"``); it is imported only here, when a
crowd is built.

References
----------
T. Lefort, B. Charlier, A. Joly and J. Salmon, "Identify ambiguous tasks combining crowdsourced
labels by weighting areas under the margin", TMLR 2024. T. Lefort, *Quantifying ambiguities
in crowdsourced classification*, PhD thesis, Université de Montpellier, 2024.

Examples
--------
>>> from crowdwise.simulate.classifiers import classifier_crowd
>>> crowd = classifier_crowd("two-moons", n_tasks=300, seed=0)
>>> crowd.worker_type.tolist()
['linear-svc', 'rbf-svc', 'boosting']
>>> crowd.votes.n_votes, crowd.features.shape
(900, (300, 2))
>>> bool(crowd.worker_accuracy[1] > crowd.worker_accuracy[0])   # RBF SVC bends with the moons
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..utils import check_random_state
from ..votes import Votes
from . import _engine
from ._result import SimulationResult

__all__ = ["CLASSIFIERS", "DEFAULT_CLASSIFIERS", "FEATURE_SETS", "ClassifierCrowd", "classifier_crowd",
           "make_classifier", "require_sklearn", "three_circles", "two_moons"]

INSTALL_HINT = 'pip install "crowdwise[simulate]"'


def require_sklearn() -> Any:
    """The ``sklearn`` module, or an :class:`InputError` saying how to install it."""
    try:
        import sklearn
    except ImportError:
        raise InputError("classifiers as workers need scikit-learn, which is not installed",
                         fix=f"install it with {INSTALL_HINT}") from None
    return sklearn


# --------------------------------------------------------------------------- feature sets
def three_circles(n: int, rng: np.random.Generator, noise: float = 0.13) -> tuple[np.ndarray, np.ndarray]:
    r"""``n`` points on three concentric circles, radii 1/3, 2/3 and 1 (class :math:`k` on
    radius :math:`(k+1)/3`; classes balanced up to one point), uniform angle, isotropic
    Gaussian noise of sd ``noise`` on both coordinates (scikit-learn's ``make_circles``
    convention). Draws, in this order: the class permutation, the angles, the noise.

    Examples
    --------
    >>> x, y = three_circles(6, np.random.default_rng(0), noise=0.0)
    >>> np.round(np.hypot(x[:, 0], x[:, 1]) * 3).astype(int).tolist() == (y + 1).tolist()
    True
    """
    y = rng.permutation(np.arange(n) % 3)
    angle = rng.uniform(0, 2 * np.pi, n)
    r = (y + 1) / 3.0
    x = np.c_[r * np.cos(angle), r * np.sin(angle)] + noise * rng.standard_normal((n, 2))
    return x.astype(np.float32), y


def two_moons(n: int, rng: np.random.Generator, noise: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    r"""``n`` points on two interleaving half circles (scikit-learn's ``make_moons`` layout):
    class 0 on :math:`(\cos t, \sin t)`, class 1 on :math:`(1 - \cos t, \tfrac12 - \sin t)`,
    :math:`t \sim \mathcal U[0, \pi]`, classes balanced up to one point, isotropic
    Gaussian noise of sd ``noise``.

    Examples
    --------
    >>> x, y = two_moons(4, np.random.default_rng(0), noise=0.0)
    >>> bool(np.allclose(np.hypot(x[y == 0, 0], x[y == 0, 1]), 1.0))
    True
    """
    y = rng.permutation(np.arange(n) % 2)
    t = rng.uniform(0, np.pi, n)
    x = np.where((y == 0)[:, None], np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    x = x + noise * rng.standard_normal((n, 2))
    return x.astype(np.float32), y


#: generated feature sets: name -> (generator, number of classes, default noise)
FEATURE_SETS: dict[str, tuple[Callable[..., tuple[np.ndarray, np.ndarray]], int, float]] = {
    "two-moons": (two_moons, 2, 0.2),
    "three-circles": (three_circles, 3, 0.13),
}


# --------------------------------------------------------------------------- classifiers
def _linear_svc(seed: int, **kw: Any) -> Any:
    from sklearn.svm import LinearSVC

    return LinearSVC(random_state=seed, **kw)


def _rbf_svc(seed: int, **kw: Any) -> Any:
    from sklearn.svm import SVC

    return SVC(**{"kernel": "rbf", "C": 1.0, **kw}, random_state=seed)


def _boosting(seed: int, **kw: Any) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier

    return GradientBoostingClassifier(**{"max_depth": 3, **kw}, random_state=seed)


def _tree(seed: int, **kw: Any) -> Any:
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(**{"max_depth": 3, **kw}, random_state=seed)


def _knn(seed: int, **kw: Any) -> Any:
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(**{"n_neighbors": 5, **kw})


def _logistic(seed: int, **kw: Any) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**{"max_iter": 1000, **kw}, random_state=seed)


def _naive_bayes(seed: int, **kw: Any) -> Any:
    from sklearn.naive_bayes import GaussianNB

    return GaussianNB(**kw)


#: named classifiers: name -> (factory(seed, **params), description)
CLASSIFIERS: dict[str, tuple[Callable[..., Any], str]] = {
    "linear-svc": (_linear_svc, "linear support vector classifier (LinearSVC)"),
    "rbf-svc": (_rbf_svc, "support vector classifier with an RBF kernel (SVC, C=1)"),
    "boosting": (_boosting, "gradient boosting (GradientBoostingClassifier, max_depth=3)"),
    "tree": (_tree, "decision tree of depth 3"),
    "knn": (_knn, "5 nearest neighbours"),
    "logistic": (_logistic, "logistic regression (max_iter=1000)"),
    "naive-bayes": (_naive_bayes, "Gaussian naive Bayes"),
}
#: the thesis' three workers
DEFAULT_CLASSIFIERS = ("linear-svc", "rbf-svc", "boosting")


def make_classifier(name: str, seed: int = 0, **params: Any) -> Any:
    """A new scikit-learn classifier by name (:data:`CLASSIFIERS`), seeded when it draws.

    Examples
    --------
    >>> make_classifier("boosting", seed=1, max_depth=1).get_params()["max_depth"]
    1
    """
    require_sklearn()
    key = str(name).strip().lower().replace("_", "-")
    if key not in CLASSIFIERS:
        raise InputError(f"unknown classifier {name!r}", fix=f"use one of {', '.join(CLASSIFIERS)}")
    try:
        return CLASSIFIERS[key][0](seed, **params)
    except TypeError as exc:
        raise InputError(f"bad parameters for classifier {key}: {exc}",
                         fix="give parameters its scikit-learn class accepts") from None


# --------------------------------------------------------------------------- the crowd
@dataclass(frozen=True, eq=False, repr=False)
class ClassifierCrowd(SimulationResult):
    """A :class:`SimulationResult` whose workers are fitted classifiers.

    Attributes (beyond those of :class:`SimulationResult`)
    ------------------------------------------------------
    features : ndarray of shape (n_tasks, d)
        The tasks' features (row i = task i).
    classifiers : list
        The fitted scikit-learn estimators, one per worker.
    worker_accuracy : ndarray of shape (n_workers,)
        Accuracy of each worker's predictions against the truth on all tasks (also those it
        does not vote on).
    parts : list of ndarray or None
        User features: the rows each worker was fitted on; None for a generated set.
    test_features, test_truth : ndarray or None
        Held-out points (generated sets with ``n_test > 0``).
    """

    features: np.ndarray | None = None
    classifiers: list | None = None
    worker_accuracy: np.ndarray | None = None
    parts: list | None = None
    test_features: np.ndarray | None = None
    test_truth: np.ndarray | None = None


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}", fix=f"give {name} >= {minimum}")
    return int(value)


def _n_given(classifiers: Any) -> int:
    """How many classifiers were given (one name or estimator, or a list of them)."""
    return 1 if isinstance(classifiers, str) or hasattr(classifiers, "fit") else len(list(classifiers))


def _estimators(classifiers: Any, n_workers: int, seed: int) -> tuple[list, list[str]]:
    from sklearn.base import clone

    items = [classifiers] if isinstance(classifiers, str) or hasattr(classifiers, "fit") else list(classifiers)
    if not items:
        raise InputError("no classifier given", fix=f"name some of {', '.join(CLASSIFIERS)}")
    out, names = [], []
    for j in range(n_workers):
        c = items[j % len(items)]
        if isinstance(c, str):
            out.append(make_classifier(c, seed))
            names.append(c.strip().lower().replace("_", "-"))
        elif hasattr(c, "fit") and hasattr(c, "predict"):
            out.append(clone(c))
            names.append(type(c).__name__)
        else:
            raise InputError(f"classifier {c!r} is neither a name nor a scikit-learn estimator",
                             fix=f"name one of {', '.join(CLASSIFIERS)}, or pass an estimator with fit/predict")
    return out, names


def classifier_crowd(features: str | Any = "two-moons", truth: Any = None, *, n_tasks: int = 500,
                     n_workers: int | None = None, classifiers: Any = DEFAULT_CLASSIFIERS, n_fit: int | None = None,
                     noise: float | None = None, n_test: int = 0, feedback: int | None = None,
                     imbalance_votes: bool = False, workerload: int | None = None, exclude_own_part: bool = True,
                     seed: int = 0) -> ClassifierCrowd:
    """A crowd of classifiers labelling a feature set (see the module documentation).

    Parameters
    ----------
    features : {"two-moons", "three-circles"} or array of shape (n, d)
        A generated set, or the user's features (one row per task, with ``truth``).
    truth : array of shape (n,), optional
        The class of each row of the user's features (any values; sorted distinct values
        become the classes).
    n_tasks : int
        Generated sets: number of tasks (ignored for user features: one task per row).
    n_workers : int, optional
        Number of workers; default ``len(classifiers)``.
    classifiers : names or estimators
        Repeated in turn up to ``n_workers``; default the thesis' three.
    n_fit : int, optional
        Training points per worker: a fresh draw of that size (generated; default
        ``n_tasks``), or rows of the user's features (default ``n // n_workers``).
    noise : float, optional
        Generated sets: sd of the Gaussian noise (default 0.2 for two moons, 0.13 for
        three circles, the value of ``benchmarks/learning.py``).
    n_test : int
        Generated sets: held-out points drawn with the tasks (``test_features``).
    feedback, imbalance_votes, workerload
        Which workers vote on which task, as in :func:`crowdwise.simulate.simulate`
        (default: every worker on every task).
    exclude_own_part : bool, default=True
        User features: a worker does not vote on the rows it was fitted on.
    seed : int
        Seed of the draws, the parts, the vote assignment and the classifiers.

    Returns
    -------
    ClassifierCrowd
        ``strategy="classifiers"``, ``worker_type`` the classifier names.
    """
    require_sklearn()
    seed = _check_int("seed", seed, 0)
    rng = check_random_state(seed)
    generated = isinstance(features, str)
    n_test = _check_int("n_test", n_test, 0)
    parts: list | None = None
    if generated:
        key = features.strip().lower().replace("_", "-")
        if key not in FEATURE_SETS:
            raise InputError(f"unknown feature set {features!r}",
                             fix=f"use one of {', '.join(FEATURE_SETS)}, or pass a feature matrix with its truth")
        if truth is not None:
            raise InputError("a generated feature set makes its own truth", fix="leave truth out")
        gen, k, default_noise = FEATURE_SETS[key]
        noise = default_noise if noise is None else float(noise)
        if not (math.isfinite(noise) and noise >= 0):
            raise InputError(f"noise must be a finite number >= 0, got {noise!r}", fix="e.g. noise=0.2")
        n_tasks = _check_int("n_tasks", n_tasks, 1)
        x_all, y_all = gen(n_tasks + n_test, rng, noise)
        x, y = x_all[:n_tasks], y_all[:n_tasks]
        classes = np.arange(k)
        n_workers = _n_given(classifiers) if n_workers is None else n_workers
        n_workers = _check_int("n_workers", n_workers, 1)
        n_fit = n_tasks if n_fit is None else _check_int("n_fit", n_fit, 2)
        models, names = _estimators(classifiers, n_workers, seed)
        for clf in models:
            clf.fit(*gen(n_fit, rng, noise))
    else:
        x = np.asarray(features)
        if x.ndim != 2 or x.dtype.kind not in "iuf" or not np.isfinite(x).all():
            raise InputError(f"features must be a finite numeric matrix (one row per task), got shape {x.shape} "
                             f"and dtype {x.dtype}", fix="pass an (n_tasks, n_features) array of numbers")
        if truth is None:
            raise InputError("the classifiers learn from labelled rows: the truth of the features is needed",
                             fix="pass truth= (one class per row)")
        t = np.asarray(truth)
        if t.shape != (x.shape[0],):
            raise InputError(f"truth has shape {t.shape}, expected ({x.shape[0]},) (one class per feature row)",
                             fix="give one class per row of the features, in the same order")
        classes, y = np.unique(t, return_inverse=True)
        n_tasks, k = x.shape[0], classes.size
        if k < 2:
            raise InputError("the truth holds a single class", fix="give features of at least two classes")
        n_workers = _n_given(classifiers) if n_workers is None else n_workers
        n_workers = _check_int("n_workers", n_workers, 1)
        if n_workers < 2 and exclude_own_part:
            raise InputError("one worker excluded from its own part leaves those rows without a vote",
                             fix="use at least two workers, or exclude_own_part=False")
        n_fit = max(2, n_tasks // n_workers) if n_fit is None else _check_int("n_fit", n_fit, 2)
        if n_fit > n_tasks:
            raise InputError(f"n_fit={n_fit} is more than the {n_tasks} rows", fix=f"give n_fit <= {n_tasks}")
        if n_fit * n_workers <= n_tasks:
            perm = rng.permutation(n_tasks)
            parts = [np.sort(perm[j * n_fit:(j + 1) * n_fit]) for j in range(n_workers)]
        else:
            parts = [np.sort(rng.choice(n_tasks, size=n_fit, replace=False)) for _ in range(n_workers)]
        models, names = _estimators(classifiers, n_workers, seed)
        for clf, part in zip(models, parts):
            if np.unique(y[part]).size < 2:
                raise InputError(f"a worker's part of {n_fit} rows holds a single class, so it cannot be fitted",
                                 fix="give a larger n_fit, or fewer workers")
            clf.fit(x[part], y[part])
    pred = np.stack([np.asarray(clf.predict(x)) for clf in models]).astype(np.int64)  # (n_workers, n_tasks)
    if feedback is None:
        feedback = n_workers
    feedback = _check_int("feedback", feedback, 1)
    if feedback > n_workers:
        raise InputError(f"feedback={feedback} votes per task is more than the {n_workers} workers",
                         fix=f"ask for at most {n_workers} votes per task")
    task, worker = _engine.assign(rng, n_workers, n_tasks, feedback, imbalance_votes=imbalance_votes,
                                  workerload=workerload)
    if parts is not None and exclude_own_part:
        own = np.zeros(task.size, bool)
        owner_rows = np.concatenate(parts)
        owner = np.repeat(np.arange(n_workers), [p.size for p in parts])
        key = np.sort(owner_rows * n_workers + owner)
        q = task * n_workers + worker
        pos = np.minimum(np.searchsorted(key, q), key.size - 1)
        own = key[pos] == q
        task, worker = task[~own], worker[~own]
        left = np.bincount(task, minlength=n_tasks)
        if (left == 0).any():
            i = int(np.flatnonzero(left == 0)[0])
            raise InputError(f"row {i} gets no vote once its workers' own parts are left out",
                             fix="raise feedback, use more workers, or exclude_own_part=False")
    label = pred[worker, task]
    votes = Votes(task=task, worker=worker, label=label, task_ids=np.arange(n_tasks), worker_ids=np.arange(n_workers),
                  classes=classes, name="classifiers")
    params = dict(n_tasks=n_tasks, n_workers=n_workers, n_classes=int(k),
                  features=features if generated else "user", classifiers=names, n_fit=n_fit,
                  noise=noise if generated else None, n_test=n_test if generated else 0, feedback=feedback,
                  imbalance_votes=bool(imbalance_votes), workerload=workerload, seed=seed)
    return ClassifierCrowd(votes=votes, truth=y.astype(np.int64), strategy="classifiers", params=params,
                           worker_type=np.array(names), features=x, classifiers=models,
                           worker_accuracy=(pred == y[None, :]).mean(axis=1), parts=parts,
                           test_features=x_all[n_tasks:] if generated and n_test else None,
                           test_truth=y_all[n_tasks:].astype(np.int64) if generated and n_test else None)
