"""M-MSR: worker skills from a robust rank-one completion of the worker agreement matrix.

Ma & Olshevsky (NeurIPS 2020): under the one-coin model (worker j right with probability
``p_j``, wrong answers uniform over the other ``K - 1`` classes), the chance-corrected
agreement of two workers is a rank-one matrix,
``E[C_ab] = s_a s_b`` with ``C_ab = K/(K-1) * agree_ab / common_ab - 1/(K-1)`` and
``s_j = (K p_j - 1) / (K - 1)``. The matrix mean-subsequence-reduced (M-MSR) iteration
completes it from the observed pairs while trimming the ``F`` largest and smallest ratios
(the adversaries' influence), a sign determination on the graph of ``sign(C_ab)`` tells
reliable from adversarial workers, and the labels are the one-coin posterior: a vote of
worker j weighs ``log((K-1) p_j / (1 - p_j))``.

Everything lives on the worker pairs that share a task (``D`` pairs, at most
``sum_i r_i^2`` for ``r_i`` votes on task i): the pair counts are sparse products
``T^T T`` (tasks x workers incidence) and ``M^T M`` ((task, class) cells x workers), each
trimmed-mean step is a segmented sort of the ``D`` ratios (warm-started from the previous
order), and the sign determination is one eigenvector of a sparse graph on the workers
and the positive pairs (power iteration, one sparse product a round). No tasks x workers
or workers x workers array is built.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..utils import argmax_ties, check_random_state, class_ranks
from ..votes import Votes
from ._base import DENSE_PROBAS_LIMIT, Aggregator, Boolean, Integer, Options, Real, as_probas, worker_values_for
from .registry import register

__all__ = ["MMSR"]

_SIGNS = ("observed", "positive")
#: power iterations of the sign determination
_EIG_MAXITER = 1000


# ----------------------------------------------------------------------------- pairs
def co_votes(votes: Votes, max_co_voters: int | None, random_state=None) -> tuple[sparse.csr_array, np.ndarray]:
    """The worker pairs that share a task: a symmetric CSR ``(n_workers, n_workers)`` of
    common tasks (no diagonal) and, on its pattern (``.data`` order), the agreements.

    A worker's several votes on one task count as one vote spread over their classes:
    on a task, ``common += 1`` and ``agree += sum_k share_a(k) share_b(k)`` (1 or 0 with
    one vote each). A task with more than ``max_co_voters + 1`` workers pairs each of its
    votes with ``max_co_voters`` others only (``max_co_voters // 2`` on each side in an
    order drawn with ``random_state`` and keyed by worker id), so that the pairs stay
    O(votes x max_co_voters).
    """
    n, w = votes.n_tasks, votes.n_workers
    key = votes.task.astype(np.int64) * max(w, 1) + votes.worker
    groups, inv = np.unique(key, return_inverse=True)
    per_group = np.bincount(inv, minlength=groups.size)
    share = 1.0 / per_group[inv]  # each vote's share of its (task, worker) group
    g_task, g_worker = np.divmod(groups, max(w, 1))
    workers_per_task = np.bincount(g_task, minlength=n)
    big = (workers_per_task > max_co_voters + 1) if max_co_voters is not None else np.zeros(n, bool)
    small_g = ~big[g_task]
    T = sparse.csr_array((np.ones(int(small_g.sum())), (g_task[small_g], g_worker[small_g])), shape=(n, w))
    _, cells, position = votes.task_label_pattern()
    small_v = ~big[votes.task]
    M = sparse.csr_array((share[small_v], (position[small_v], votes.worker[small_v])), shape=(cells.size, w))
    common = (T.T @ T).tocsr()
    agree = (M.T @ M).tocsr()
    if big.any():
        rows, cols, c_w, a_w = _capped_pairs(votes, big, share, int(max_co_voters), random_state)
        common = (common + sparse.csr_array((c_w, (rows, cols)), shape=(w, w))).tocsr()
        agree = (agree + sparse.csr_array((a_w, (rows, cols)), shape=(w, w))).tocsr()
    common = _drop_diagonal(common)
    common.sum_duplicates()
    common.sort_indices()
    agree = _drop_diagonal(agree)
    agree.sum_duplicates()
    agree.sort_indices()
    # agreements on the pattern of the common counts (every agreeing pair shares a task)
    ck = _keys(common, w)
    ak = _keys(agree, w)
    on = np.zeros(common.nnz)
    if ak.size:
        on[np.searchsorted(ck, ak)] = agree.data
    return common, on


def _keys(m: sparse.csr_array, w: int) -> np.ndarray:
    rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
    return rows * max(w, 1) + m.indices


def _drop_diagonal(m: sparse.csr_array) -> sparse.csr_array:
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    keep = (rows != m.indices) & (m.data != 0)
    return sparse.csr_array((m.data[keep], (rows[keep], m.indices[keep])), shape=m.shape)


def _capped_pairs(votes: Votes, big: np.ndarray, share: np.ndarray, cap: int, random_state):
    """Vote pairs of the tasks with too many workers: each vote against the ``cap // 2``
    next and previous votes of its task in a seeded order keyed by worker id (both
    directions, so the pairs are symmetric). Weights: product of the shares."""
    rng = check_random_state(random_state)
    rank = class_ranks(votes.worker_ids)  # follows the id, not the index
    order_key = rng.permutation(max(votes.n_workers, 1))[rank] if votes.n_workers else rank
    idx = np.flatnonzero(big[votes.task])
    t, wk, lab = votes.task[idx], votes.worker[idx], votes.label[idx]
    o = np.lexsort((lab, order_key[wk], t))
    idx, t, wk, lab = idx[o], t[o], wk[o], lab[o]
    size = np.bincount(t, minlength=votes.n_tasks)
    start = np.r_[0, np.cumsum(size)][t]
    pos = np.arange(idx.size) - start
    r = size[t]
    h = max(cap // 2, 1)
    reps = np.minimum(r - 1, 2 * h)
    src = np.repeat(np.arange(idx.size), reps)
    j = np.arange(src.size) - np.repeat(np.cumsum(reps) - reps, reps)  # 0..reps-1
    offset = np.where(j < h, j + 1, r[src] - (j - h + 1))  # +1..+h, then -1..-h (mod r)
    dst = start[src] + (pos[src] + offset) % r[src]
    keep = wk[src] != wk[dst]
    src, dst = src[keep], dst[keep]
    weight = share[idx[src]] * share[idx[dst]]
    return wk[src], wk[dst], weight, weight * (lab[src] == lab[dst])


# ----------------------------------------------------------------------------- M-MSR
class _Ratios:
    """The trimmed-mean step of M-MSR on the rows of a symmetric CSR pattern.

    ``step(X, other, current)`` returns, for each row j, the mean of the ratios
    ``X_jl / other_l`` over its entries after crowd-kit's trimming around ``a = current_j``:
    drop the ``F`` smallest ratios (all ratios below ``a`` when fewer than ``F`` are), then
    the ``F`` largest (all above ``a`` when fewer than ``F`` are). A row left empty keeps
    ``a``; a row left with a single 0 gets ``1/sqrt(n_tasks)``. Entries whose ``other_l``
    is 0 carry no information on row j and are left out.

    The ratios are sorted within rows by one stable sort of ``(row, float32 bits of the
    ratio)`` started from the previous order (near convergence it barely changes, and
    timsort runs in linear time on such data).
    """

    def __init__(self, X: sparse.csr_array, F: int, n_tasks: int):
        self.X = X
        self.F = F
        self.floor = 1.0 / np.sqrt(max(n_tasks, 1))
        self.n = X.shape[0]
        self.rows = np.repeat(np.arange(self.n, dtype=np.int64), np.diff(X.indptr))
        self.perm = np.arange(X.nnz)  # entries sorted by (row, ratio) at the last step

    def step(self, other: np.ndarray, current: np.ndarray) -> np.ndarray:
        X, n, F = self.X, self.n, self.F
        perm = self.perm
        rows = self.rows  # rows of the sorted entries: perm never leaves its row
        den = other[X.indices[perm]]
        ok = den > 0
        ratio = np.divide(X.data[perm], den, out=np.zeros(perm.size), where=ok)
        if F > 0:
            bits = np.where(ok, ratio, np.inf).astype(np.float32).view(np.int32).astype(np.int64)
            o = np.argsort((rows << 32) | bits, kind="stable")
            perm, ratio, ok = perm[o], ratio[o], ok[o]
            self.perm = perm
        a = current[rows]
        cnt = np.bincount(rows, weights=ok, minlength=n)
        keep = ok
        if F < 0:  # crowd-kit's y[-1:] for F = -1: the largest usable ratio alone
            top = np.full(n, -np.inf)
            has = np.diff(X.indptr) > 0
            if ratio.size:
                top[has] = np.maximum.reduceat(np.where(ok, ratio, -np.inf), X.indptr[:-1][has])
            out = np.where(cnt > 0, top, current)
            out[(cnt > 0) & (top == 0)] = self.floor
            return out
        if F > 0:
            below = np.bincount(rows, weights=ok & (ratio < a), minlength=n)
            above = np.bincount(rows, weights=ok & (ratio > a), minlength=n)
            # rank among the row's usable ratios (the unusable ones sort last)
            rank = np.arange(perm.size) - np.repeat(self.X.indptr[:-1], np.diff(self.X.indptr))
            low = np.where(below[rows] < F, ratio >= a, rank >= F)
            high = np.where(above[rows] < F, ratio <= a, rank < cnt[rows] - F)
            keep = ok & low & high
        k = np.bincount(rows, weights=keep, minlength=n)
        s = np.bincount(rows, weights=np.where(keep, ratio, 0.0), minlength=n)
        out = np.where(k > 0, s / np.maximum(k, 1), current)
        out[(k == 1) & (s == 0)] = self.floor
        return out


def msr(X: sparse.csr_array, F: int, n_tasks: int, n_iter: int, tol: float, tick=None) -> tuple[np.ndarray, int, list]:
    """Alternate ``v_j = trimmed mean_l X_lj / u_l`` and ``u_i = trimmed mean_l X_il / v_l``
    from ``u = v = 1`` until ``||u v^T - u' v'^T||_F < tol``; returns ``u sqrt(|v| / |u|)``
    (the rank-one factor ``x`` with ``x x^T = u v^T`` in norm), the iterations run and the
    loss history.

    The trimming around the current value makes the map discontinuous, and it can settle
    in a 2-cycle (seen on a crowd with two tasks of 10,000 votes). When ``(u, v)`` comes
    back bit for bit to its value of two steps before, the rest of the run only alternates:
    it stops there and returns the state the ``n_iter``-th step would reach (the same
    parity), which is what running on gives, without the remaining steps.
    """
    n = X.shape[0]
    u = np.ones(n)
    v = np.ones(n)
    trim = _Ratios(X, F, n_tasks)
    history = []
    before = None  # (u, v) two steps back
    prev = (u, v)
    it = 0
    for it in range(1, n_iter + 1):
        v_new = trim.step(u, v)
        u_new = trim.step(v_new, u)
        du, dv = u_new - u, v_new - v
        # ||u' v'^T - u v^T||_F^2 with u' = u + du, v' = v + dv, without cancellation
        # (einsum, not BLAS: OpenBLAS threads would spin on the other core for the rest of the fit)
        loss2 = (_dot(du, du) * _dot(v_new, v_new) + _dot(u, u) * _dot(dv, dv) + 2.0 * _dot(du, u) * _dot(dv, v_new))
        loss = float(np.sqrt(max(loss2, 0.0)))
        before, prev = prev, (u, v)
        u, v = u_new, v_new
        history.append(loss)
        if tick is not None:
            tick(it, n_iter, loss)
        if loss < tol:
            break
        if before is not None and np.array_equal(u, before[0]) and np.array_equal(v, before[1]) and it < n_iter:
            if (n_iter - it) % 2:
                u, v = prev
            break
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    x = u * np.sqrt(nv / nu) if nu > 0 and nv > 0 else u
    return x, it, history


def sign_determination(C: sparse.csr_array, pattern_rows: np.ndarray, x: np.ndarray, voted: np.ndarray,
                       k_classes: int, mode: str) -> np.ndarray:
    """Signs of the skills from the signs of the agreement matrix (crowd-kit's construction).

    Nodes: the valid workers (with a non-zero ``C_ab``; crowd-kit: a non-zero row sum of
    its dense C) and one node per positive pair
    ``C_ab > 0``, joined to a and b; a negative pair joins a and b directly. On that
    graph ``sigma_a sigma_b = sign(C_ab)`` is a 2-colouring, relaxed into the eigenvector
    of the smallest eigenvalue of the normalised adjacency ``D^-1/2 A D^-1/2`` (crowd-kit:
    the eigenvalue of ``D^-1 A + I`` of smallest magnitude, the same vector up to the
    positive scaling ``D^-1/2``). Its signs, oriented so that most workers are positive,
    give ``sigma``. It is found by power iteration on ``(I - D^-1/2 A D^-1/2) / 2`` from
    the constant vector (at most ``_EIG_MAXITER`` rounds; only the signs are used), or
    exactly on a graph of at most 300 nodes; either way a degenerate eigenvalue (several
    components) gives the projection of the start, whatever the order of the workers.

    ``mode="crowdkit"`` reads C as crowd-kit stores it: a pair without a common task (and
    a worker with itself) has ``C = -1/(K-1)``, so it is a *negative* edge; the graph is
    complete (held as ``J - observed + negative``, never dense). ``mode="observed"``
    keeps the observed pairs only. Invalid workers get 0.
    """
    n = x.size
    rows, cols, c = pattern_rows, C.indices, C.data
    shift = 1.0 / (k_classes - 1)
    nv = int(voted.sum())
    if mode == "crowdkit":  # crowd-kit's test: a non-zero row sum of its dense C
        deg_obs = np.bincount(rows, minlength=n)
        row_sum = np.bincount(rows, weights=c, minlength=n) - (nv - deg_obs) * shift
        valid = voted & (row_sum != 0)
    else:  # a worker with a non-zero correlation (a row sum can cancel: +1 +1 -1 -1)
        valid = voted & (np.bincount(rows, weights=c != 0, minlength=n) > 0)
    vid = np.flatnonzero(valid)
    k = vid.size
    if k == 0:
        return np.zeros(n)
    pos = np.full(n, -1)
    pos[vid] = np.arange(k)
    both = valid[rows] & valid[cols]
    r, q, cv = pos[rows[both]], pos[cols[both]], c[both]
    upper = r < q
    pr, pq = r[upper & (cv > 0)], q[upper & (cv > 0)]
    m = pr.size
    neg = (cv < 0).astype(float)
    if mode == "crowdkit":  # J - observed + negative: the J part is applied as a rank one
        w_block = neg - 1.0
        deg_w = k + np.bincount(r, weights=w_block, minlength=k)
    else:
        w_block = neg
        deg_w = np.bincount(r, weights=w_block, minlength=k)
    deg_w = deg_w + np.bincount(np.r_[pr, pq], minlength=k)
    deg = np.r_[deg_w, np.full(m, 2.0)]
    scale = np.divide(1.0, np.sqrt(deg), out=np.zeros_like(deg), where=deg > 0)
    # the adjacency without J, scaled on both sides: one sparse product per iteration
    mid = k + np.arange(m)
    ar = np.r_[r, pr, pq, mid, mid]
    ac = np.r_[q, mid, mid, pr, pq]
    ad = np.r_[w_block, np.ones(4 * m)] * scale[ar] * scale[ac]
    keep = ad != 0
    N = sparse.csr_array((ad[keep], (ar[keep], ac[keep])), shape=(k + m, k + m))
    dw = scale[:k]

    def matvec(y: np.ndarray) -> np.ndarray:
        out = N @ y
        if mode == "crowdkit":
            out[:k] += dw * _dot(dw, y[:k])
        return -out  # -N: its largest eigenvalue is N's smallest

    size = k + m
    start = np.ones(size) / np.sqrt(size)
    if size <= 300:  # a small graph: dense, with a degenerate eigenvalue handled as Lanczos would
        A = -N.toarray()
        if mode == "crowdkit":
            A[:k, :k] -= np.outer(dw, dw)
        vals, vecs = np.linalg.eigh((A + A.T) / 2)
        top = vals >= vals[-1] - 1e-9 * max(1.0, abs(vals[-1]))
        basis = vecs[:, top]
        phi = basis @ (basis.T @ start)  # where the power iteration from `start` ends
        if not np.any(np.abs(phi) > 1e-12):
            phi = basis[:, -1]
    else:
        # power iteration on (I - N) / 2, whose top eigenvector is N's bottom one, from
        # `start`, until the vector settles or _EIG_MAXITER rounds: only its signs are
        # used. (ARPACK and LOBPCG took a minute on noisy signs, whose spectrum is
        # clustered at the end: two tasks of 10,000 votes; and both call threaded BLAS.)
        phi = start
        for _ in range(_EIG_MAXITER):
            nxt = 0.5 * (phi + matvec(phi))  # matvec is -N
            nxt /= np.sqrt(_dot(nxt, nxt))
            done = _dot(nxt - phi, nxt - phi) < 1e-20
            phi = nxt
            if done:
                break
    sv = np.sign(phi[:k])
    orient = 1.0 if sv.sum() >= 0 else -1.0
    out = np.zeros(n)
    out[vid] = orient * sv * np.abs(x[vid])
    return out


# ----------------------------------------------------------------------------- strategy
@register("MMSR")
class MMSR(Aggregator):
    r"""Matrix mean-subsequence-reduced (M-MSR) skills, one-coin weighted vote.

    With ``K'`` the classes somebody voted for, ``common_ab`` the tasks workers a and b
    both answered and ``agree_ab`` those on which they agree,

    .. math::

        C_{ab} = \frac{K'}{K'-1}\,\frac{\mathrm{agree}_{ab}}{\mathrm{common}_{ab}}
                 - \frac{1}{K'-1} \approx s_a s_b, \qquad
        s_j = \frac{K' p_j - 1}{K' - 1}

    (``p_j``: the probability that j answers right, wrong answers uniform). M-MSR
    completes ``|C|`` as ``u v^T`` from the observed pairs, alternating, from
    ``u = v = 1``,

    .. math::

        v_j \leftarrow \operatorname{trim}_F \{ |C_{lj}| / u_l \}_l, \qquad
        u_i \leftarrow \operatorname{trim}_F \{ |C_{il}| / v_l \}_l

    (the mean after dropping the ``F`` smallest and ``F`` largest values, or all those
    below / above the current value when there are fewer than ``F``) until
    ``||u v^T - u' v'^T||_F < tol``, and ``|s| = u sqrt(|v|/|u|)``. ``F = floor(d/2) - 1``
    (at least 0), ``d`` the fewest co-workers of a worker. The signs come from the graph of
    ``sign(C)`` (:func:`sign_determination`): a worker worse than chance has ``s_j < 0``.
    Then ``s`` is clipped to ``[-1/(K'-1) + 1/sqrt(n), 1 - 1/sqrt(n)]`` (n: tasks with a
    vote), ``p_j = s_j (K'-1)/K' + 1/K'``, a vote of j weighs

    .. math::

        w_j = \log \frac{(K'-1)\, p_j}{1 - p_j}, \qquad
        P(y_i = k) \propto \exp \sum_{(i, j, k)} w_j

    over the ``K'`` classes (the one-coin posterior with a uniform prior; a class nobody
    voted for on the task scores 0, so it wins where every voter is adversarial), and
    ``labels_`` is its argmax.

    The algorithm, its defaults (``n_iter = 10000``, ``tol = 1e-10``) and the rule for
    ``F`` are crowd-kit's ``MMSR`` (1.4.2, itself a port of the authors' MATLAB code), on
    sparse pairs instead of dense ``workers x tasks`` and ``workers x workers`` matrices.
    Three rules of crowd-kit's code are not followed by default, because they are not
    the method (``crowdkit_compat=True`` restores all three, and then follows crowd-kit's
    accuracy on the real data sets closely; figures in ``docs/benchmarks/accuracy.md``):

    1. *Sign graph.* crowd-kit shifts its dense ``C`` by ``-1/(K-1)`` everywhere, so a
       pair of workers *without* a common task (and a worker with itself) enters the
       sign graph as a negative pair; its validity test (``row sum != 0``) presumes
       zeros there, so that workers who merely never met turn adversarial (how many on
       the real sets: ``docs/dev/performance.md``, "Figures behind docstrings").
       Default: the observed pairs only, and a worker takes part when one of its
       correlations is not 0 (a row sum cancels for +1, +1, -1, -1).
    2. *Label rule.* crowd-kit divides the weighted scores by their sum before taking
       the argmax, which turns it into an argmin when the sum is negative. Default: the
       posterior above (the argmax of the scores).
    3. *Trimming.* crowd-kit's ``F`` is ``-1`` when a worker has at most one co-worker,
       and its trimming then keeps only the largest ratio of every worker. Default:
       ``F >= 0``.

    Other differences, all on degenerate input: a ratio whose denominator is 0 is left
    out (crowd-kit divides by 0, and on zheng_product all its skills become ``nan``); a
    worker who shares no task with anybody gets the mean skill (crowd-kit: its random
    start); several votes of a worker on one task count as one vote shared by their
    classes (crowd-kit keeps the last row); ``u = v = 1`` at the start (crowd-kit draws
    them per worker index; its fixed point does not depend on the start: skills agree to
    1e-10 across seeds); a 2-cycle of the iteration is cut short with the state of the
    same parity as ``n_iter`` (see :func:`msr`); a task with more than
    ``max_co_voters + 1`` workers pairs each vote with ``max_co_voters`` others drawn with
    ``random_state`` (keyed by worker id), so that memory stays O(votes x max_co_voters)
    (no real data set here has more than 39 workers on a task).

    Parameters
    ----------
    n_iter : int, default=10000
        Maximum number of M-MSR iterations.
    tol : float, default=1e-10
        Stop when the Frobenius norm of the change of ``u v^T`` is below it.
    n_trim : int or None, default=None
        ``F``; None: ``max(floor(d/2) - 1, 0)``.
    signs : {"observed", "positive"}, default="observed"
        ``"observed"``: the sign determination on the observed pairs; ``"positive"``:
        every worker taken as better than chance (no sign determination).
    crowdkit_compat : bool, default=False
        Follow crowd-kit 1.4.2's code in the three points above (``signs`` and
        ``n_trim`` are then not used; its label rule builds dense ``(n_tasks, K)`` scores).
    max_co_voters : int or None, default=50
        Pairs per vote on a task with more workers (None: all pairs).
    probas : {"auto", "full", "voted"}, default="auto"
        Form of ``probas_``: ``"full"`` the dense ``(n_tasks, K)`` posterior; ``"voted"`` a
        CSR matrix of each task's voted classes (the posterior renormalised over them,
        ``unvoted_mass_`` holding the rest; ``labels_`` is the argmax of the full
        posterior either way); ``"auto"``: full up to 2**25 entries.
    tie : {"random", "smallest"}, default="random"
        Tie rule of ``labels_``.
    random_state : int, Generator or None
        Seed of the tie rule and of the pairs of very large tasks.

    Attributes
    ----------
    skills_ : ndarray of shape (n_workers,)
        The vote weight ``w_j`` of each worker (a worker without vote gets the mean).
    accuracies_ : ndarray of shape (n_workers,)
        ``p_j``.
    voted_classes_ : ndarray of bool, shape (n_classes,)
        The ``K'`` classes of the posterior.
    n_trim_ : int
        ``F`` used.
    n_iter_ : int
    loss_history_ : list of float
    unvoted_mass_ : ndarray of shape (n_tasks,)
        Posterior mass of the classes nobody voted for on each task.
    labels_, probas_

    Notes
    -----
    The sign determination is on by default although it costs accuracy on real sets
    without adversaries: it is what the method is for, and it keeps its accuracy on
    crowds with adversarial workers where ``signs="positive"``, crowd-kit's rules and
    the majority vote fall. Choose ``signs="positive"`` when no worker is expected to
    answer worse than chance on purpose. The measurements (16 real sets, simulated
    crowds with 0, 10 and 25 % adversaries) are in ``docs/dev/performance.md``
    ("Figures behind docstrings") and ``docs/benchmarks/accuracy.md``.

    References
    ----------
    Q. Ma and A. Olshevsky, "Adversarial crowdsourcing through robust rank-one matrix
    completion", NeurIPS 2020, arXiv:2010.12181. Ustalov et al., "Learning from crowds
    with Crowd-Kit", JOSS 2024 (``crowdkit.aggregation.MMSR``).

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3],
    ...                        ["a", "b", "c"] * 4, [0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1])
    >>> m = MMSR(tie="smallest").fit(v)
    >>> m.labels_.tolist()
    [0, 1, 0, 1]
    >>> bool(m.skills_[0] > m.skills_[2])
    True
    """

    description = "Matrix mean-subsequence-reduced skills (robust rank-one completion), one-coin weighted vote."
    scales_to_many_classes = True
    parameter_rules = {
        "n_iter": Integer(0, help="the most M-MSR iterations"),
        "tol": Real(0, help="the change of u v^T under which M-MSR stops"),
        "n_trim": Integer(0, help="the ratios trimmed at each end (None: from the fewest co-workers)") | None,
        "signs": Options(*_SIGNS, noun="a sign rule"),
        "crowdkit_compat": Boolean(),
        "max_co_voters": Integer(2, help="the pairs of a vote on a task with more workers (None: all)") | None,
        "probas": Options("auto", "full", "voted", noun="a form of soft labels"),
    }

    def __init__(self, n_iter: int = 10000, tol: float = 1e-10, n_trim: int | None = None, signs: str = "observed",
                 crowdkit_compat: bool = False, max_co_voters: int | None = 50, probas: str = "auto",
                 tie: str = "random", random_state: int | None = None):
        self.n_iter = n_iter
        self.tol = tol
        self.n_trim = n_trim
        self.signs = signs
        self.crowdkit_compat = crowdkit_compat
        self.max_co_voters = max_co_voters
        self.probas = probas
        self.tie = tie
        self.random_state = random_state

    def _fit(self, votes: Votes) -> None:
        compat = bool(self.crowdkit_compat)
        n, w = votes.n_tasks, votes.n_workers
        voted_classes = np.bincount(votes.label, minlength=votes.n_classes) > 0
        k = max(int(voted_classes.sum()), 2)
        n_voted_tasks = max(int(np.count_nonzero(np.bincount(votes.task, minlength=n))), 1)
        voted = np.bincount(votes.worker, minlength=w) > 0
        common, agree = co_votes(votes, self.max_co_voters, self.random_state)
        ratio = agree / common.data
        C = sparse.csr_array((k / (k - 1) * ratio - 1 / (k - 1), common.indices, common.indptr), shape=(w, w))
        rows = np.repeat(np.arange(w), np.diff(C.indptr))
        degree = np.diff(C.indptr)
        if self.n_trim is None or compat:
            d_min = int(degree[voted].min()) if voted.any() else 0
            F = d_min // 2 - 1 if compat else max(d_min // 2 - 1, 0)
        else:
            F = int(self.n_trim)
        X = sparse.csr_array((np.abs(C.data), C.indices, C.indptr), shape=(w, w))
        x, self.n_iter_, self.loss_history_ = msr(X, F, n_voted_tasks, int(self.n_iter), float(self.tol),
                                                  tick=self._tick)
        self.n_trim_ = F
        if self.signs == "positive" and not compat:
            s = np.where(voted, x, 0.0)
        else:
            s = sign_determination(C, rows, x, voted, k, "crowdkit" if compat else "observed")
        # a worker who shares no task with anybody has no estimate: the mean skill of those
        # who have one (all alone: 1/2, every vote then weighs the same)
        isolated = voted & (degree == 0)
        if isolated.any():
            known = voted & ~isolated
            s[isolated] = float(np.mean(s[known])) if known.any() else 0.5
        floor = 1.0 / np.sqrt(n_voted_tasks)
        s = np.maximum(np.minimum(s, 1.0 - floor), -1.0 / (k - 1) + floor)
        p = s * (k - 1) / k + 1.0 / k
        weights = np.log(p * (k - 1) / (1.0 - p))
        if voted.any():
            weights[~voted] = float(np.mean(weights[voted]))
            p[~voted] = float(np.mean(p[voted]))
        self.accuracies_ = p
        self.skills_ = weights
        self.voted_classes_ = voted_classes
        self.probas_, self.unvoted_mass_, self.labels_ = self._posterior(votes, weights, voted_classes,
                                                                        labels=True)

    # ------------------------------------------------------------------ posterior
    def _posterior(self, votes: Votes, weights: np.ndarray, voted_classes: np.ndarray, labels: bool = False):
        """One-coin posterior ``P(y_i = k) ∝ exp(sum_{(i, j, k)} w_j)`` over the classes of
        ``voted_classes``; every other class has probability 0."""
        n, kk = votes.n_tasks, votes.n_classes
        scores = votes.counts(weights=weights[votes.worker])
        cell_task = np.repeat(np.arange(n), np.diff(scores.indptr))
        cells = scores.data
        n_k = int(voted_classes.sum())
        n_cells = np.diff(scores.indptr)
        has_unvoted = n_cells < n_k  # a class of the K' without a vote on the task
        top = np.zeros(n)
        if cells.size:
            ok = n_cells > 0
            top[ok] = np.maximum.reduceat(cells, scores.indptr[:-1][ok])
        top = np.where(has_unvoted, np.maximum(top, 0.0), top)
        e_cells = np.exp(cells - top[cell_task])
        e_unvoted = np.where(has_unvoted, np.exp(-top), 0.0)  # each unvoted class of the K'
        z = np.bincount(cell_task, weights=e_cells, minlength=n) + e_unvoted * (n_k - n_cells)
        z = np.where(z > 0, z, 1.0)
        unvoted_mass = e_unvoted * (n_k - n_cells) / z
        dense = self.probas == "full" or (self.probas == "auto" and n * kk <= DENSE_PROBAS_LIMIT)
        if dense:
            P = np.zeros((n, kk))
            P[:, voted_classes] = (e_unvoted / z)[:, None]
            P[cell_task, scores.indices] = e_cells / z[cell_task]
            probas = P
        else:
            probas = as_probas(sparse.csr_array((e_cells / z[cell_task], scores.indices, scores.indptr),
                                                shape=(n, kk)), dense=False)
        if not labels:
            return probas, unvoted_mass
        if self.crowdkit_compat:
            # crowd-kit's MajorityVote(skills): argmax of the scores divided by their sum over
            # the K' classes (unvoted ones 0): the argmin where the sum is negative
            S = np.zeros((n, kk))
            S[cell_task, scores.indices] = cells
            tot = S.sum(axis=1, keepdims=True)
            R = np.divide(S, tot, out=np.zeros_like(S), where=tot != 0)
            R = np.where(voted_classes[None, :], R, -np.inf)
            R = R - R.max(axis=1, keepdims=True)  # row maxima 0, the others below: ties by the rule
            lab = argmax_ties(np.exp(R), tie=self.tie, random_state=self.random_state)
            return probas, unvoted_mass, lab
        if dense:
            lab = argmax_ties(probas, tie=self.tie, random_state=self.random_state)
        else:
            lab = self._sparse_labels(votes, scores, cell_task, e_cells / z[cell_task], e_unvoted / z,
                                      has_unvoted, voted_classes)
        return probas, unvoted_mass, lab

    def _sparse_labels(self, votes, scores, cell_task, p_cells, p_unvoted, has_unvoted, voted_classes):
        """Argmax of the posterior held as voted cells plus one value per unvoted class: the
        unvoted classes enter through one representative per task (the smallest by index,
        or one drawn uniformly among them for ``tie="random"``)."""
        n = votes.n_tasks
        cls = np.flatnonzero(voted_classes)
        rank = np.full(votes.n_classes, -1)
        rank[cls] = np.arange(cls.size)
        cr = rank[scores.indices]
        in_k = cr >= 0
        # g_c = number of the K' classes below cell c's class that the task did not vote for
        pos = np.arange(cr.size) - np.repeat(scores.indptr[:-1], np.diff(scores.indptr))
        gaps = cr - pos
        n_unvoted = cls.size - np.diff(scores.indptr)
        if self.tie == "random":
            rng = check_random_state(self.random_state)
            pick = np.floor(rng.random(n) * np.maximum(n_unvoted, 1)).astype(np.int64)
        else:
            pick = np.zeros(n, np.int64)
        # the pick-th unvoted class: pick + #{voted cells with g_c <= pick}
        below = np.bincount(cell_task, weights=in_k & (gaps <= pick[cell_task]), minlength=n).astype(np.int64)
        rep = cls[np.minimum(pick + below, cls.size - 1)]
        rows = np.r_[cell_task, np.flatnonzero(has_unvoted)]
        cols = np.r_[scores.indices, rep[has_unvoted]]
        data = np.r_[p_cells, p_unvoted[has_unvoted]]
        m = sparse.csr_array((data, (rows, cols)), shape=(n, votes.n_classes))
        return argmax_ties(m, tie=self.tie, random_state=self.random_state)

    def _predict_proba(self, votes: Votes):
        """One-coin posterior of new votes with the fitted weights (unknown workers: the mean
        weight), over the classes voted in the fit."""
        default = float(np.mean(self.skills_)) if self.skills_.size else 0.0
        weights = worker_values_for(self, votes, self.skills_, default=default)
        classes = self.voted_classes_ | (np.bincount(votes.label, minlength=votes.n_classes) > 0)
        return self._posterior(votes, weights, classes)[0]


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.einsum("i,i->", a, b))
