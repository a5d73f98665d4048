"""Shared machinery of the EM strategies: grouped sums over votes, log-space E-step,
the convergence loop, and the memory budget check.

Every EM strategy in crowdwise calls these helpers instead of writing its own copy.

Grouped sums
    The E-step needs, for each task, a sum over its votes of a K-vector that depends on
    the (worker, label) of the vote; the M-step needs, for each (worker, label) pair, a sum
    over its votes of the task posterior. Both are *segment sums*: the votes are sorted
    once by the group key, and each sum is ``np.add.reduceat`` over contiguous segments,
    computed in chunks of votes so that the temporary ``(chunk, K)`` block stays small.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from ..errors import TooLargeError

__all__ = ["Segments", "segment_sum_gather", "vote_incidence", "group_index", "log_normalize", "row_max", "EMHistory", "check_budget",
           "DEFAULT_MEMORY_BUDGET", "vote_profile_fingerprints", "hashed_uniforms"]

#: Default memory budget (bytes) for the largest arrays of a strategy: 4 GiB.
DEFAULT_MEMORY_BUDGET = 4 * 2**30

_CHUNK_CELLS = 2**23  # entries of a temporary (chunk, K) float64 block: 64 MiB


@dataclass(frozen=True)
class Segments:
    """Votes sorted by a group key, with the start of each non-empty group.

    Attributes
    ----------
    order : ndarray (n_votes,)
        Permutation sorting the votes by key (stable).
    starts : ndarray (n_groups_present,)
        Start of each segment in the sorted order.
    keys : ndarray (n_groups_present,)
        The key of each segment.
    """

    order: np.ndarray
    starts: np.ndarray
    keys: np.ndarray

    @classmethod
    def from_keys(cls, key: np.ndarray) -> "Segments":
        order = np.argsort(key, kind="stable")
        sk = key[order]
        if sk.size == 0:
            return cls(order, np.zeros(0, np.int64), np.zeros(0, np.int64))
        change = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
        return cls(order, change.astype(np.int64), sk[change])


def segment_sum_gather(seg: Segments, gather: Callable[[np.ndarray], np.ndarray], k: int) -> np.ndarray:
    """``out[g] = sum over the votes v of segment g of gather(v)`` with ``gather`` → (len, k).

    ``gather`` receives vote indices (in sorted order, a chunk at a time) and returns the
    ``(len(chunk), k)`` block to add. Chunks end on segment boundaries, so the temporary
    block never exceeds about 64 MiB (or one segment when a segment is larger).
    """
    n_seg = seg.starts.size
    out = np.zeros((n_seg, k))
    if n_seg == 0:
        return out
    n = seg.order.size
    ends = np.r_[seg.starts[1:], n]
    max_rows = max(1, _CHUNK_CELLS // max(k, 1))
    s0 = 0
    while s0 < n_seg:
        # last segment whose end stays within max_rows of this chunk's start (at least one)
        lo = seg.starts[s0]
        s1 = int(np.searchsorted(ends, lo + max_rows, side="right"))
        s1 = max(s1, s0 + 1)
        hi = ends[s1 - 1]
        block = gather(seg.order[lo:hi])
        out[s0:s1] = np.add.reduceat(block, seg.starts[s0:s1] - lo, axis=0)
        s0 = s1
    return out


def group_index(key: np.ndarray, key_space: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of ``key`` (sorted) and the index of each element among them.

    ``np.unique(key, return_inverse=True)`` without the sort when the key space is small
    (at most 4 x the number of keys): one bincount and a cumulative sum.
    """
    key = np.asarray(key, dtype=np.int64)
    if 0 < key_space <= max(4 * key.size, 1 << 16):
        present = np.bincount(key, minlength=key_space) > 0
        rank = np.cumsum(present) - 1
        return np.flatnonzero(present), rank[key]
    uniq, inverse = np.unique(key, return_inverse=True)
    return uniq, inverse.ravel()


def vote_incidence(row: np.ndarray, col: np.ndarray, n_rows: int, n_cols: int) -> sparse.csr_array:
    """Number of votes in each (row, col) cell as a CSR ``(n_rows, n_cols)`` matrix.

    With rows = tasks and columns = (worker, label) pairs, the E-step's per-task sum of a
    per-pair K-vector is ``A @ B`` and the M-step's per-pair sum of task posteriors is
    ``A.T @ T``: compiled sparse-dense products, O(votes x K), no temporary block.
    """
    m = sparse.csr_array((np.ones(row.size), (row, col)), shape=(n_rows, n_cols))
    m.sum_duplicates()
    return m


def row_max(L: np.ndarray) -> np.ndarray:
    """``L.max(axis=1)`` for a C-ordered 2-D array, fast when rows are short.

    NumPy reduces a short inner axis slowly; for K <= 64 the maximum is taken column by
    column (K vector operations over all rows), which is 3x faster at K = 10.
    """
    n, k = L.shape
    if k == 0:
        return np.zeros(n)
    if k > 64:
        return L.max(axis=1)
    m = L[:, 0].copy()
    for c in range(1, k):
        np.maximum(m, L[:, c], out=m)
    return m


def row_sum(X: np.ndarray) -> np.ndarray:
    """``X.sum(axis=1)`` of a 2-D array, fast when rows are short (einsum's kernel; a
    matrix-vector product with ones is as fast on an idle machine but its BLAS threads
    stall several-fold when another process holds a core)."""
    return np.einsum("ij->i", X) if X.shape[1] else np.zeros(X.shape[0])


def log_normalize(log_scores: np.ndarray, *, overwrite: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise softmax in log space: ``(probas, log_normalizers)``.

    ``probas[i] = exp(L[i] - logsumexp(L[i]))``; rows of ``-inf`` become uniform (their
    normaliser is ``-inf``). Never produces NaN. ``overwrite=True`` reuses the buffer of
    a float64 C-ordered ``log_scores`` for the result (no second (n, K) array).
    """
    L = np.asarray(log_scores, dtype=float)
    if L.ndim != 2 or not L.flags.c_contiguous:
        L = np.ascontiguousarray(L, dtype=float).reshape(L.shape[0], -1)
        overwrite = True
    k = L.shape[1]
    m = row_max(L)
    m[~np.isfinite(m)] = 0.0
    e = np.subtract(L, m[:, None], out=L if overwrite and L.flags.writeable else None)
    np.exp(e, out=e)
    s = row_sum(e)
    with np.errstate(divide="ignore", invalid="ignore"):
        lognorm = np.log(s)
        lognorm += m
        e *= (1.0 / s)[:, None]
    empty = s <= 0
    if empty.any():
        e[empty] = 1.0 / max(k, 1)
    return e, lognorm


@dataclass
class EMHistory:
    """Convergence bookkeeping: objective history, iteration count, converged flag.

    ``update(value)`` appends the objective and returns True when the relative change
    ``|L_t - L_{t-1}| / max(1, |L_t|)`` is below ``tol``.
    """

    tol: float
    values: list[float] = field(default_factory=list)

    def update(self, value: float) -> bool:
        self.values.append(float(value))
        if len(self.values) < 2:
            return False
        prev, cur = self.values[-2], self.values[-1]
        return abs(cur - prev) <= self.tol * max(1.0, abs(cur))


def check_budget(method: str, n_bytes: float, budget: float | None, *, what: str, alternatives: str) -> None:
    """Raise :class:`TooLargeError` when ``n_bytes`` exceeds ``budget`` (None: default budget)."""
    budget = DEFAULT_MEMORY_BUDGET if budget is None else budget
    if n_bytes > budget:
        raise TooLargeError(
            f"{method} would need about {n_bytes / 2**30:.1f} GiB for {what}, above the memory budget of "
            f"{budget / 2**30:.1f} GiB. Methods whose memory does not grow with K^2 per worker can run here: "
            f"{alternatives}. Or raise the budget with memory_budget=... if the machine has the memory.")


def safe_log(x: np.ndarray) -> np.ndarray:
    """``log(x)`` with ``log(0) = -inf`` and no warning."""
    with np.errstate(divide="ignore"):
        return np.log(x)


def n_chunks(n: int, k: int) -> int:  # pragma: no cover - small utility
    return max(1, math.ceil(n * k / _CHUNK_CELLS))


# ---------------------------------------------------------------------- invariant random draws
# A strategy with a random start must give the same result when tasks and workers are
# renamed or the votes reordered. Drawing one number per worker (or task, or vote) from a
# Generator ties the draw to a position; these helpers tie it instead to the seed and to
# the *vote profile* of the worker or task (its number of votes for each class), which no
# renaming or reordering changes. Owners with the same profile get the same draw.

_MIX1, _MIX2, _MIX3 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: uint64 -> well mixed uint64 (arithmetic modulo 2**64)."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + _MIX1
        z = (z ^ (z >> np.uint64(30))) * _MIX2
        z = (z ^ (z >> np.uint64(27))) * _MIX3
        return z ^ (z >> np.uint64(31))


def vote_profile_fingerprints(owner: np.ndarray, label: np.ndarray, n_owners: int, n_classes: int) -> np.ndarray:
    """A 64-bit fingerprint per owner (worker or task) of its vote profile.

    The profile of owner o is its number of votes for each class; the fingerprint is a
    hash of it, so it does not depend on ids or vote order. Owners without vote get 0.

    Examples
    --------
    >>> fp = vote_profile_fingerprints(np.array([0, 0, 1, 1, 2]), np.array([1, 0, 0, 1, 1]), 4, 2)
    >>> bool(fp[0] == fp[1]), bool(fp[0] == fp[2]), int(fp[3])
    (True, False, 0)
    """
    owner = np.asarray(owner, dtype=np.int64)
    keys, counts = np.unique(owner * max(n_classes, 1) + np.asarray(label, dtype=np.int64), return_counts=True)
    fp = np.zeros(n_owners, dtype=np.uint64)
    if keys.size == 0:
        return fp
    own, lab = np.divmod(keys, max(n_classes, 1))
    codes = _splitmix64(np.arange(1, n_classes + 1, dtype=np.uint64))
    with np.errstate(over="ignore"):
        terms = _splitmix64(counts.astype(np.uint64) ^ codes[lab])
        starts = np.flatnonzero(np.r_[True, own[1:] != own[:-1]])
        fp[own[starts]] = np.add.reduceat(terms, starts)  # sum modulo 2**64: order-free
    return fp


def hashed_uniforms(keys: np.ndarray, salt: int | np.uint64) -> np.ndarray:
    """Uniform draws in ``[0, 1)``, one per key, as a function of ``(key, salt)`` only.

    Draw ``salt`` from the strategy's seeded Generator and use keys from
    :func:`vote_profile_fingerprints` (XOR-ed with further salts for several draws per
    owner) to get random numbers that are seeded yet invariant to renaming and
    reordering. Owners with the same profile get the same draw, so use them for small
    perturbations (restarts), not where independent draws matter.
    """
    with np.errstate(over="ignore"):
        z = _splitmix64(np.asarray(keys, dtype=np.uint64) ^ np.uint64(salt))
    return (z >> np.uint64(11)).astype(float) * 2.0**-53
