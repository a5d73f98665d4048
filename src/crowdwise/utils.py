"""Array helpers shared by every package: seeds, tie rules, row normalisation.

These are the one implementation of rules the whole library follows: a tie at the top of
a row is broken by :func:`argmax_ties` (``tie="random"`` or ``"smallest"``) or shared by
:func:`argmax_shares`, randomness comes from :func:`check_random_state` (never the global
NumPy stream), per-class random draws are keyed by :func:`class_ranks`, and soft labels
are rows scaled by :func:`normalize_rows`. The strategies of :mod:`crowdwise.aggregate`,
the scores of :mod:`crowdwise.identify`, the readers of :mod:`crowdwise.io` and the
simulators of :mod:`crowdwise.simulate` all use them from here
(:mod:`crowdwise.aggregate` re-exports them, as before).

Dense inputs are NumPy arrays of shape ``(n_rows, n_classes)``; sparse ones are SciPy
CSR arrays or matrices.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from .errors import InputError

__all__ = ["check_random_state", "class_ranks", "normalize_rows", "argmax_ties", "argmax_shares"]


def check_random_state(seed: None | int | np.random.Generator) -> np.random.Generator:
    """A NumPy random Generator from a seed, without touching the global random state.

    Parameters
    ----------
    seed : None, int or numpy.random.Generator
        ``None`` draws fresh entropy from the operating system, an int seeds a new
        generator (the same int gives the same stream), a Generator is returned as it
        is (so that a caller can share one stream between several steps).

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    crowdwise.InputError
        For any other value (a float, a ``numpy.random.RandomState``...).

    Examples
    --------
    >>> rng = check_random_state(0)
    >>> check_random_state(rng) is rng
    True
    >>> bool(check_random_state(7).random() == check_random_state(7).random())
    True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.default_rng(seed)
    raise InputError(f"random_state must be None, an int or a numpy Generator, got {seed!r}",
                     fix="use e.g. random_state=0")


def class_ranks(classes: np.ndarray) -> np.ndarray:
    """Rank of each class id among the sorted ids (``str`` order when they do not sort).

    A key for per-class random draws (and fingerprints) that follows the class, not its
    index: with the classes listed in another order, every class keeps its rank. Classes
    inferred from the votes are listed in sorted order: there the rank is usually the
    index.

    Parameters
    ----------
    classes : array-like of shape (n_classes,)
        The class ids (``Votes.classes``), of any sortable type; ids of mixed types are
        compared as text.

    Returns
    -------
    ndarray of int64, shape (n_classes,)
        ``ranks[k]``: the position of ``classes[k]`` in the sorted ids (ties by
        position, stable sort).

    Examples
    --------
    >>> class_ranks(np.array(["dog", "cat", "owl"])).tolist()
    [1, 0, 2]
    """
    ids = np.asarray(classes)
    try:
        order = np.argsort(ids, kind="stable")
    except TypeError:  # ids of mixed types
        order = np.argsort(ids.astype(str), kind="stable")
    rank = np.empty(ids.size, np.int64)
    rank[order] = np.arange(ids.size)
    return rank


def normalize_rows(m: np.ndarray | sparse.sparray, empty: str = "uniform") -> np.ndarray | sparse.csr_array:
    """Rows scaled to sum to 1; an all-zero row becomes uniform (``empty="uniform"``).

    Parameters
    ----------
    m : ndarray or sparse matrix of shape (n_rows, n_classes)
        Non-negative scores (vote counts, weights, unnormalised posteriors).
    empty : {"uniform", "zero"}, default="uniform"
        What a dense row summing to 0 becomes: ``1 / n_classes`` everywhere, or (any
        other value) all zeros. A sparse row without entries always stays empty.

    Returns
    -------
    ndarray of float or scipy.sparse.csr_array
        A dense float array for a dense ``m``; a CSR array (a copy, on the same pattern)
        for a sparse one, where an empty row is read as uniform by
        :func:`~crowdwise.aggregate.dense_probas`.

    Examples
    --------
    >>> normalize_rows(np.array([[1., 3.], [0., 0.]])).tolist()
    [[0.25, 0.75], [0.5, 0.5]]
    """
    if sparse.issparse(m):
        m = sparse.csr_array(m, dtype=float, copy=True)
        s = np.asarray(m.sum(axis=1)).ravel()
        nz = s > 0
        scale = np.zeros_like(s)
        scale[nz] = 1.0 / s[nz]
        m.data *= np.repeat(scale, np.diff(m.indptr))
        return m
    m = np.asarray(m, dtype=float)
    s = m.sum(axis=1, keepdims=True)
    out = np.divide(m, s, out=np.zeros_like(m), where=s > 0)
    if empty == "uniform" and m.shape[1]:
        out[(s <= 0).ravel()] = 1.0 / m.shape[1]
    return out


def argmax_ties(
    scores: np.ndarray | sparse.sparray,
    tie: str = "random",
    random_state: None | int | np.random.Generator = None,
    rtol: float = 1e-12,
) -> np.ndarray:
    """Row-wise argmax with an explicit tie rule, dense or CSR, fully vectorised.

    Entries within ``rtol`` (relative) of the row maximum are tied. A row with no vote
    (all zero; for a sparse matrix, no positive entry) is tied over all classes.

    Parameters
    ----------
    scores : ndarray or sparse matrix of shape (n_rows, n_classes)
        Scores per class (vote counts, soft labels...); sparse scores must be
        non-negative.
    tie : {"random", "smallest"}, default="random"
        ``"smallest"`` takes the smallest class index among the tied entries,
        ``"random"`` draws one uniformly with ``random_state``.
    random_state : None, int or numpy.random.Generator, default=None
        Seed of the draws of ``tie="random"`` (see :func:`check_random_state`).
    rtol : float, default=1e-12
        Relative tolerance under the row maximum within which entries are tied.

    Returns
    -------
    ndarray of int64, shape (n_rows,)
        The chosen class index of each row.

    Raises
    ------
    crowdwise.InputError
        When ``tie`` is not a tie rule.

    Examples
    --------
    >>> argmax_ties(np.array([[1., 3., 3.], [2., 0., 1.], [0., 0., 0.]]), tie="smallest").tolist()
    [1, 0, 0]
    """
    if tie not in ("random", "smallest"):
        raise InputError(f"tie={tie!r} is not a tie rule", fix="use 'random' or 'smallest'")
    rng = check_random_state(random_state) if tie == "random" else None
    n, k = scores.shape
    if sparse.issparse(scores):
        m = sparse.csr_array(scores)
        m.sum_duplicates()
        m.sort_indices()
        lengths = np.diff(m.indptr)
        row_of = np.repeat(np.arange(n), lengths)
        data = m.data
        starts = m.indptr[:-1]
        has = lengths > 0
        rowmax = np.full(n, -np.inf)
        if data.size:
            rowmax[has] = np.maximum.reduceat(data, starts[has])
        ok = (data >= rowmax[row_of] - rtol * np.abs(rowmax[row_of])) & (data > 0)
        if tie == "smallest":
            key = np.where(ok, -m.indices.astype(float), -np.inf)
        else:
            key = np.where(ok, rng.random(data.size), -np.inf)
        best = np.full(n, -np.inf)
        if data.size:
            best[has] = np.maximum.reduceat(key, starts[has])
        pick = ok & (key == best[row_of])
        labels = np.zeros(n, dtype=np.int64)
        # first picked entry of each row (keys are distinct within a row almost surely)
        picked = np.flatnonzero(pick)  # sorted by row, as CSR entries are
        rp = row_of[picked]
        first = np.r_[True, rp[1:] != rp[:-1]] if rp.size else np.zeros(0, bool)
        rows_picked = rp[first]
        labels[rows_picked] = m.indices[picked[first]]
        empty = np.ones(n, dtype=bool)
        empty[rows_picked] = False
    else:
        s = np.asarray(scores)  # float64 block by block: no full copy of float32 or int scores
        labels = np.zeros(n, dtype=np.int64)
        empty = np.ones(n, dtype=bool)
        # blocks of rows keep the (rows, K) temporaries cache-sized instead of 3 arrays the
        # size of the scores; the random draws come in the same order as one (n, K) draw
        step = max(1, (1 << 16) // max(k, 1))
        for a in range(0, n if k else 0, step):
            b = np.asarray(s[a:a + step], dtype=float)
            rowmax = b.max(axis=1)
            ok = b >= (rowmax - rtol * np.abs(rowmax))[:, None]
            empty[a:a + step] = ~np.any(b != 0, axis=1)
            if tie == "smallest":
                labels[a:a + step] = np.argmax(ok, axis=1)
            else:
                labels[a:a + step] = np.argmax(np.where(ok, rng.random(b.shape), -1.0), axis=1)
    if empty.any():
        if tie == "smallest" or k == 0:
            labels[empty] = 0
        else:
            labels[empty] = rng.integers(0, k, size=int(empty.sum()))
    return labels


def argmax_shares(scores: np.ndarray | sparse.sparray, rtol: float = 1e-12) -> np.ndarray | sparse.csr_array:
    """The tied maxima of each row sharing its mass: ``1/m`` on each of the ``m`` entries
    :func:`argmax_ties` calls tied at the top of the row, 0 elsewhere.

    It is what ``argmax_ties(tie="random")`` gives on average, without drawing: a step that
    feeds a hard label back into a fit (a majority-vote start, a C-step, agreement with a
    majority vote) uses it so that a tie decides nothing by index or by the order in which
    a random stream reaches the rows. Renaming or reordering tasks, workers or classes then
    cannot change the fit. An untied row is the one-hot vector of its argmax.

    Parameters
    ----------
    scores : ndarray or sparse matrix of shape (n_rows, n_classes)
        Scores per class; sparse scores must be non-negative.
    rtol : float, default=1e-12
        Relative tolerance under the row maximum within which entries are tied (the one
        of :func:`argmax_ties`).

    Returns
    -------
    ndarray of float or scipy.sparse.csr_array
        Dense scores give a dense array, a row with no non-zero entry being tied over all
        classes (uniform). CSR scores give a CSR matrix on the same pattern (explicit
        zeros kept, so that ``out.data`` lines up with ``scores.data`` of a canonical
        matrix); a row without a positive entry stays all zero (read as uniform, as by
        :func:`~crowdwise.aggregate.dense_probas`).

    Examples
    --------
    >>> argmax_shares(np.array([[1., 3., 3.], [2., 0., 1.], [0., 0., 0.]])).round(3).tolist()
    [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0], [0.333, 0.333, 0.333]]
    """
    n, k = scores.shape
    if sparse.issparse(scores):
        m = sparse.csr_array(scores, dtype=float, copy=True)
        m.sum_duplicates()
        m.sort_indices()
        lengths = np.diff(m.indptr)
        row_of = np.repeat(np.arange(n), lengths)
        has = lengths > 0
        rowmax = np.full(n, -np.inf)
        if m.data.size:
            rowmax[has] = np.maximum.reduceat(m.data, m.indptr[:-1][has])
        top = rowmax[row_of]
        ok = (m.data >= top - rtol * np.abs(top)) & (m.data > 0)
        n_top = np.bincount(row_of, weights=ok, minlength=n)
        m.data = np.divide(ok, n_top[row_of], out=np.zeros(m.data.size), where=ok)
        return m
    s = np.asarray(scores)
    out = np.zeros((n, k))
    step = max(1, (1 << 16) // max(k, 1))
    for a in range(0, n if k else 0, step):
        b = np.asarray(s[a:a + step], dtype=float)
        rowmax = b.max(axis=1)
        ok = b >= (rowmax - rtol * np.abs(rowmax))[:, None]
        ok[~np.any(b != 0, axis=1)] = True
        out[a:a + step] = ok / ok.sum(axis=1, keepdims=True)
    return out
