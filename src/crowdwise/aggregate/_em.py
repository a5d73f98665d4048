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

from ..errors import TooLargeError

__all__ = ["Segments", "segment_sum_gather", "log_normalize", "EMHistory", "check_budget",
           "DEFAULT_MEMORY_BUDGET"]

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


def log_normalize(log_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise softmax in log space: ``(probas, log_normalizers)``.

    ``probas[i] = exp(L[i] - logsumexp(L[i]))``; rows of ``-inf`` become uniform (their
    normaliser is ``-inf``). Never produces NaN.
    """
    L = np.asarray(log_scores, dtype=float)
    m = np.max(L, axis=1, keepdims=True)
    finite = np.isfinite(m)
    m = np.where(finite, m, 0.0)
    e = np.exp(L - m)
    s = e.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        lognorm = (np.log(s) + m).ravel()
    probas = np.divide(e, s, out=np.full_like(e, 1.0 / max(L.shape[1], 1)), where=s > 0)
    return probas, lognorm


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
