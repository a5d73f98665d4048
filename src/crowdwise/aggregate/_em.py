"""Shared math of the EM strategies: grouped sums over votes, log-space E-step, the
convergence bookkeeping, the float32 and threading policy of the E/M kernels, the
starting posteriors and class shares of the Dawid-Skene family, and the memory budget
check. (The loop itself is the driver's: :mod:`crowdwise.aggregate._driver`.)

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
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from ..errors import InputError, TooLargeError
from ._base import Satisfies, argmax_shares

__all__ = ["Segments", "segment_sum_gather", "vote_incidence", "group_index", "log_normalize", "exp_nonpositive",
           "log_nonnegative", "row_max", "row_sum", "EMHistory", "check_budget", "safe_log",
           "DEFAULT_MEMORY_BUDGET", "FAST_MIN_TOL", "float32_pays", "vote_profile_fingerprints", "hashed_uniforms",
           "splitmix64", "check_n_jobs", "N_JOBS", "n_threads", "csr_row_blocks", "run_blocks", "add_csr_product",
           "initial_posteriors", "class_priors", "pair_sums"]

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


def add_csr_product(A: sparse.csr_array, X: np.ndarray, out: np.ndarray) -> None:
    """``out += A @ X`` for a CSR ``A`` and C-ordered float64 ``X`` and ``out``, written
    straight into ``out`` (a row block of a bigger array, say) by SciPy's compiled
    kernel: no ``(rows, K)`` temporary and no extra pass. Any other input, or a SciPy
    without that kernel, takes ``out += A @ X``."""
    ok = (X.dtype == np.float64 and out.dtype == np.float64 and A.dtype == np.float64
          and X.ndim == 2 and out.ndim == 2 and X.flags.c_contiguous and out.flags.c_contiguous
          and out.flags.writeable and out.shape == (A.shape[0], X.shape[1]) and A.shape[1] == X.shape[0]
          and A.indptr.dtype == A.indices.dtype)
    if ok:
        try:
            from scipy.sparse import _sparsetools
            kernel = _sparsetools.csr_matvecs
        except (ImportError, AttributeError):  # pragma: no cover - a SciPy that moved it
            ok = False
    if not ok:
        out += A @ X
        return
    y = out.reshape(-1)  # a view: out is C-contiguous
    kernel(A.shape[0], A.shape[1], X.shape[1], A.indptr, A.indices, A.data, X.reshape(-1), y)


def row_max(L: np.ndarray) -> np.ndarray:
    """``L.max(axis=1)`` for a C-ordered 2-D array, fast when rows are short.

    NumPy reduces a short inner axis slowly; for K <= 64 the maximum is taken column by
    column (K vector operations over all rows).
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


#: below this size exp_nonpositive and log_nonnegative stay in float64 (the blocks do not pay)
FAST_EXP_MIN_SIZE = 1 << 14
#: elements per block of the float32 paths: 512 KB of float64 and 256 KB of float32, in L2
_FAST_EXP_BLOCK = 1 << 16


def exp_nonpositive(x: np.ndarray, *, fast: bool = True, min_size: int | None = None) -> np.ndarray:
    """``exp(x)`` in place for a float64 C-contiguous array of values ``<= 0`` (or ``-inf``).

    NumPy's float64 ``exp`` is vectorised only with AVX-512; on AVX2 machines it calls
    libm value by value, ~15 ns each on an E-step's mix of ``-inf`` and finite scores.
    ``fast=True`` takes NumPy's SIMD float32 ``exp`` instead, a cache-sized block at a
    time (float64 -> float32 -> exp -> float64, ~5 ns per value). The relative error is
    at most ``3e-7 + 6e-8 |x|`` (float32's exp, documented at 2.52 ULP, plus the rounding
    of ``x``), so under 8e-7 on every value that weighs more than ``exp(-8)`` of its
    row's largest. Finite values below float32's normal range (``x < -87.3``) take the
    exact float64 ``exp``: flushing them to 0 changes EM's path (another optimum:
    ``docs/dev/performance.md``, DEVELOPERS item 9), since a confusion row estimated from
    tiny posteriors is still a row. Meant for the iterations of an EM loop, whose final
    posteriors are recomputed exactly; ``fast=False``, an array of fewer than ``min_size``
    values (default ``FAST_EXP_MIN_SIZE``: the blocks do not pay below) or a non-float64
    one is plain ``np.exp``. A caller that splits one array into blocks passes ``min_size=0`` and
    decides on the whole array's size, so every block takes the same path whatever
    the split.
    """
    def exact_where(xb: np.ndarray, hb: np.ndarray, out: np.ndarray) -> None:
        # below float32's normal range (x < -87.3) but not -inf: exact, so that a tiny
        # posterior stays a tiny number (EM keeps estimating from it) and not a zero
        np.less(hb, np.finfo(np.float32).tiny, out=out)
        out &= xb > -np.inf

    return _via_float32(x, np.exp, exact_where, fast=fast, min_size=min_size)


def log_nonnegative(x: np.ndarray, *, fast: bool = True, min_size: int | None = None) -> np.ndarray:
    """``log(x)`` in place for a float64 C-contiguous array of values ``>= 0`` (``log 0 =
    -inf``, no warning).

    The M-step's twin of :func:`exp_nonpositive`: NumPy's float64 ``log`` goes through
    libm without AVX-512 (~18 ns a value when half of them are zeros, whose ``-inf``
    takes a slow path), its float32 ``log`` is SIMD (~4 ns). ``fast=True`` takes the
    float32 one a cache-sized block at a time. The absolute error is at most ``1e-7 +
    1.5e-7 |log x|`` (the rounding of ``x`` to float32, plus float32's log, whose worst
    error, ~3.8 ULP, falls where ``|log x|`` is small); a ratio of two such logarithms'
    exponentials, as a confusion ``S / n_jk``, is thus within ~1e-6 relative for counts
    up to ``e^5`` and a few 1e-6 for larger ones or for a confusion of 1e-9. Values
    outside float32's normal range (``0 < x < 1.2e-38`` or ``x > 3.4e38``) take the
    exact float64 ``log``, so that a tiny
    count keeps a finite logarithm instead of ``-inf``. Meant for the iterations of an EM
    loop; ``fast=False``, fewer than ``min_size`` values (default ``FAST_EXP_MIN_SIZE``)
    or a non-float64 array is plain ``np.log``.
    """
    def exact_where(xb: np.ndarray, hb: np.ndarray, out: np.ndarray) -> None:
        # outside float32's normal range but not 0: exact (a tiny count stays finite)
        info = np.finfo(np.float32)
        np.less(xb, info.tiny, out=out)
        out &= xb > 0
        out |= xb > info.max

    return _via_float32(x, np.log, exact_where, fast=fast, min_size=min_size)


def _via_float32(x: np.ndarray, fn: np.ufunc, exact_where: Callable[[np.ndarray, np.ndarray, np.ndarray], None],
                 *, fast: bool, min_size: int | None) -> np.ndarray:
    """``fn(x)`` in place through float32, a cache-sized block at a time: the block is
    rounded to float32, ``fn`` applied there, and written back, except where
    ``exact_where(block, float32 result, out=mask)`` flags entries, which get the float64
    ``fn``. Plain float64 ``fn`` when not ``fast``, below ``min_size`` values (default
    ``FAST_EXP_MIN_SIZE``), or for an array that is not float64 and C-contiguous."""
    flat = x.reshape(-1)
    n = flat.size
    if min_size is None:
        min_size = FAST_EXP_MIN_SIZE
    if not fast or n < min_size or n == 0 or x.dtype != np.float64 or not x.flags.c_contiguous:
        with np.errstate(divide="ignore"):  # log(0) = -inf
            fn(x, out=x)
        return x
    step = _FAST_EXP_BLOCK
    h = np.empty(min(step, n), dtype=np.float32)
    mask = np.empty(min(step, n), dtype=bool)
    with np.errstate(all="ignore"):  # out-of-range values are flagged and redone exactly
        for a in range(0, n, step):
            xb = flat[a:a + step]
            hb, mb = h[:xb.size], mask[:xb.size]
            np.copyto(hb, xb, casting="same_kind")
            fn(hb, out=hb)
            exact_where(xb, hb, mb)
            redo = np.flatnonzero(mb)
            keep = fn(xb[redo]) if redo.size else None
            np.copyto(xb, hb)
            if keep is not None:
                xb[redo] = keep
    return x


#: smallest ``tol`` at which the loop takes the float32 exp and log: their rounding (a few
#: 1e-7 relative per value) moves the log-likelihood by far less than ``1e-8 |L|``, but a
#: tighter stop test could be decided by it (docs/dev/performance.md)
FAST_MIN_TOL = 1e-8


def float32_pays(n_cells: int, tol: float) -> bool:
    """Whether an E-step over ``n_cells`` posterior cells (or an M-step over as many
    per-pair cells) takes the float32 exp (log) in the loop; read at call time, so that
    tests can move the threshold (``FAST_EXP_MIN_SIZE``)."""
    return n_cells >= FAST_EXP_MIN_SIZE and float(tol) >= FAST_MIN_TOL


def log_normalize(log_scores: np.ndarray, *, overwrite: bool = False,
                  fast_exp: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise softmax in log space: ``(probas, log_normalizers)``.

    ``probas[i] = exp(L[i] - logsumexp(L[i]))``; rows of ``-inf`` become uniform (their
    normaliser is ``-inf``). Never produces NaN. ``overwrite=True`` reuses the buffer of
    a float64 C-ordered ``log_scores`` for the result (no second (n, K) array).
    ``fast_exp=True`` takes the float32 ``exp`` of :func:`exp_nonpositive` (under 8e-7
    relative on the values that matter; faster on machines without AVX-512) whatever
    the array's size (the caller decides), for the iterations of an EM loop.
    """
    L = np.asarray(log_scores, dtype=float)
    if L.ndim != 2 or not L.flags.c_contiguous:
        L = np.ascontiguousarray(L, dtype=float).reshape(L.shape[0], -1)
        overwrite = True
    k = L.shape[1]
    m = row_max(L)
    m[~np.isfinite(m)] = 0.0
    e = np.subtract(L, m[:, None], out=L if overwrite and L.flags.writeable else None)
    exp_nonpositive(e, fast=fast_exp, min_size=0)
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
    """Raise :class:`TooLargeError` when ``n_bytes`` exceeds ``budget`` (None: default budget).

    Both sizes are written in the unit that suits each (B, KiB, MiB, GiB, TiB), with as
    many decimals as it takes for the need to read larger than the budget (a tiny budget
    once read "0.0 GiB above 0.0 GiB").
    """
    budget = DEFAULT_MEMORY_BUDGET if budget is None else budget
    if n_bytes > budget:

        def size(n: float, decimals: int) -> str:
            n = float(n)
            for unit in ("B", "KiB", "MiB", "GiB"):
                if abs(n) < 1024:
                    break
                n /= 1024
            else:
                unit = "TiB"
            if unit == "B":  # whole bytes, unless decimals are needed to tell the two apart
                return f"{n:.{0 if decimals == 1 or n == int(n) else decimals - 1}f} B"
            return f"{n:.{decimals}f} {unit}"

        decimals = 1
        while size(n_bytes, decimals) == size(budget, decimals) and decimals < 12:
            decimals += 1
        raise TooLargeError(
            f"{method} would need about {size(n_bytes, decimals)} for {what}, above the memory budget of "
            f"{size(budget, decimals)}. Methods whose memory does not grow with K^2 per worker can run here: "
            f"{alternatives}. Or raise the budget with memory_budget=... if the machine has the memory.")


def safe_log(x: np.ndarray) -> np.ndarray:
    """``log(x)`` with ``log(0) = -inf`` and no warning."""
    with np.errstate(divide="ignore"):
        return np.log(x)


def n_chunks(n: int, k: int) -> int:  # pragma: no cover - small utility
    return max(1, math.ceil(n * k / _CHUNK_CELLS))


# ---------------------------------------------------------------------- Dawid-Skene family
def initial_posteriors(votes, init: str) -> np.ndarray:
    """Initial ``T`` (n_tasks, K): vote shares (``"naivesoft"``) or majority vote
    (``"mv"``: one-hot, a tie shared equally between the m tied classes, 1/m each); a
    task without vote is uniform.

    A tie is shared, not broken (:func:`~crowdwise.aggregate._base.argmax_shares`):
    breaking it towards the smallest class index made the whole fit depend on the order
    in which the classes are listed. The sparse mode starts from the same values
    (``_sparse_ds.sparse_initial_posteriors``)."""
    k, n = votes.n_classes, votes.n_tasks
    # the dense counts straight from the votes: no CSR pattern cached on the votes (memory
    # the whole fit would then carry: docs/dev/performance.md) and no second (n, K) array
    T = np.bincount(votes.task * k + votes.label, weights=np.ones(votes.n_votes), minlength=n * k)
    T = T.astype(float, copy=False).reshape(n, k)  # (an empty bincount is int64, weights or not)
    if init == "mv":
        # in place, by row blocks (no second (n, K) array); a row without vote is tied
        # over all classes: uniform. Not renormalised: 1/m exactly, as in sparse mode
        step = max(1, (1 << 16) // max(k, 1))
        for a in range(0, n if k else 0, step):
            T[a:a + step] = argmax_shares(T[a:a + step])
        return T
    s = row_sum(T)
    empty = ~(s > 0)
    s[empty] = 1.0
    T /= s[:, None]
    T[empty] = 1.0 / k
    return T


def pair_sums(votes, by_pair: Segments, T: np.ndarray) -> np.ndarray:
    """``S[p] = sum over the votes of (worker, label) pair p of T[task]``: (pairs, K)."""
    return segment_sum_gather(by_pair, lambda idx: T[votes.task[idx]], T.shape[1])


def class_priors(T: np.ndarray, voted_tasks: np.ndarray) -> np.ndarray:
    """``rho ∝ sum_i T_i`` over the tasks with a vote (a task without vote carries no
    information on the class shares)."""
    k = T.shape[1]
    if voted_tasks.size == T.shape[0]:  # every task voted: no copy
        priors = np.einsum("ij->j", T)
    else:
        priors = T[voted_tasks].sum(axis=0)
    tot = priors.sum()
    return priors / tot if tot > 0 else np.full(k, 1.0 / k)


# ---------------------------------------------------------------------- invariant random draws
# A strategy with a random start must give the same result when tasks and workers are
# renamed or the votes reordered. Drawing one number per worker (or task, or vote) from a
# Generator ties the draw to a position; these helpers tie it instead to the seed and to
# the *vote profile* of the worker or task (its number of votes for each class), which no
# renaming or reordering changes. Owners with the same profile get the same draw.

_MIX1, _MIX2, _MIX3 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def splitmix64(x: np.ndarray) -> np.ndarray:
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
    codes = splitmix64(np.arange(1, n_classes + 1, dtype=np.uint64))
    with np.errstate(over="ignore"):
        terms = splitmix64(counts.astype(np.uint64) ^ codes[lab])
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
        z = splitmix64(np.asarray(keys, dtype=np.uint64) ^ np.uint64(salt))
    return (z >> np.uint64(11)).astype(float) * 2.0**-53


# ---------------------------------------------------------------------- threads
#: cells (rows x columns) an E-step thread should get at least: below, starting and
#: joining threads costs more than the work it shares (a 2-thread E-step pays off from
#: ~2^18 cells, e.g. 26k tasks at K = 10)
MIN_CELLS_PER_THREAD = 1 << 17


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def check_n_jobs(n_jobs: object) -> None:
    """``n_jobs`` is None, a positive number of threads, or -1, -2, ... (all cores, all but one, ...)."""
    if n_jobs is None:
        return
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise InputError(f"n_jobs={n_jobs!r} is not a number of threads",
                         fix="use None (automatic), a positive integer, or -1 for every core")


#: the rule of an ``n_jobs`` parameter (:func:`check_n_jobs` as a parameter rule)
N_JOBS = Satisfies(lambda n: n is None or (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n != 0),
                   "None for automatic, a positive number of threads, or -1 for every core, -2 for all but one...",
                   noun="a number of threads", example=-1)


def n_threads(n_jobs: int | None, n_cells: int, n_rows: int) -> int:
    """Threads for a row-parallel step over ``n_rows`` rows and ``n_cells`` cells.

    ``None``: every available core, but no more than one per ``MIN_CELLS_PER_THREAD``
    cells (so small data stays on one thread); ``k > 0``: k threads; ``-1``: every core,
    ``-2``: all but one, as in joblib. Never more threads than rows.
    """
    cores = available_cores()
    if n_jobs is None:
        want = min(cores, n_cells // MIN_CELLS_PER_THREAD)
    elif n_jobs < 0:
        want = cores + 1 + int(n_jobs)
    else:
        want = int(n_jobs)
    return int(max(1, min(want, n_rows)))


def csr_row_blocks(m: sparse.csr_array | sparse.csr_matrix, n_blocks: int) -> list[tuple[slice, sparse.csr_array]]:
    """``n_blocks`` consecutive row blocks of a CSR matrix with about equal numbers of
    stored entries, each as ``(row slice, CSR view)``; the views share ``data`` and
    ``indices`` with ``m`` (only the block's ``indptr`` is new)."""
    n = m.shape[0]
    indptr = m.indptr
    nnz = int(indptr[-1]) if n else 0
    # cut where the running count of entries crosses each 1/n_blocks of the total
    cuts = np.searchsorted(indptr, np.linspace(0, nnz, n_blocks + 1)[1:-1], side="left") if n else []
    bounds = [0, *sorted({int(min(max(c, 1), n - 1)) for c in cuts} if n > 1 else ()), n]
    blocks = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b <= a:
            continue
        lo, hi = indptr[a], indptr[b]
        view = sparse.csr_array((m.data[lo:hi], m.indices[lo:hi], indptr[a:b + 1] - lo),
                                shape=(b - a, m.shape[1]))
        # the constructor's prune() copies a slice under half of its base: put the views back
        view.data, view.indices = m.data[lo:hi], m.indices[lo:hi]
        blocks.append((slice(a, b), view))
    return blocks


def run_blocks(fn: Callable[[int], None], n_blocks: int) -> None:
    """``fn(0), ..., fn(n_blocks - 1)``, in threads when there are several blocks.

    The steps run in NumPy and SciPy kernels that release the GIL, so the threads use
    the cores. A fresh pool per call (a pool kept across calls would hang after a fork).
    Exceptions propagate.
    """
    if n_blocks <= 1:
        for i in range(n_blocks):
            fn(i)
        return
    with ThreadPoolExecutor(max_workers=n_blocks - 1) as pool:
        futures = [pool.submit(fn, i) for i in range(1, n_blocks)]
        fn(0)
        for f in futures:
            f.result()
