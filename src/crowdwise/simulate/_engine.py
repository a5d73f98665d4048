"""Vectorised machinery shared by every simulation strategy.

A strategy describes its crowd with a :class:`_Crowd` (one kind per worker, and for
confusion workers the Dirichlet law of their confusion rows) and, optionally, one
difficulty per task; :func:`run` then

1. draws which workers answer which task (:func:`assign_workers`), without a worker ever
   answering a task twice;
2. draws the confusion rows that the votes need (:func:`dirichlet_rows`);
3. draws every label at once by inverse CDF (:func:`draw_from_rows`).

Nothing here loops in Python over votes or tasks; the loops that remain walk over
*chunks* of at most :data:`CHUNK` array entries so that memory stays bounded at any size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Entries per temporary array (key matrices, blocks of cumulative rows): 2**22 float64
#: entries = 32 MiB.
CHUNK = 2**22

#: Largest ``n_workers * K * K`` for which the confusion tensor is built and returned.
#: Above it only the ``(worker, true class)`` rows met by a vote are drawn, chunk by chunk,
#: and ``confusions`` is None (2**23 float64 entries = 64 MiB).
CONFUSION_LIMIT = 2**23

# worker kinds
CONFUSION, PERFECT, UNIFORM = 0, 1, 2
# task difficulties (peerannot's "hard" is the ordinary case: answer through the confusion)
HARD, EASY, RANDOM = 0, 1, 2
DIFFICULTY_NAMES = np.array(["hard", "easy", "random"])


@dataclass
class _Crowd:
    """How each worker answers.

    kind : (n_workers,) int8, CONFUSION / PERFECT (always the truth) / UNIFORM (spammer).
    source : (n_workers,) int64, whose confusion rows a CONFUSION worker uses (itself, or
        its teacher).
    alpha : (n_workers,) float, Dirichlet concentration of the rows owned by each worker.
    swap : (n_workers,) bool, whether the diagonal entry is swapped with the row maximum
        (making the row diagonally dominant) for the rows owned by each worker.
    given : (n_workers, K, K) float or None, confusion matrices given by the user (then
        ``alpha``/``swap`` are unused).
    """

    kind: np.ndarray
    source: np.ndarray
    alpha: np.ndarray
    swap: np.ndarray
    given: np.ndarray | None = None

    @classmethod
    def independent(cls, n_workers: int, alpha: float, swap: bool = True) -> "_Crowd":
        return cls(kind=np.zeros(n_workers, np.int8), source=np.arange(n_workers, dtype=np.int64),
                   alpha=np.full(n_workers, float(alpha)), swap=np.full(n_workers, bool(swap)))


def n_of(fraction: float, n: int) -> int:
    """``floor(fraction * n)`` as peerannot counts, without float noise (0.29 * 100 -> 29)."""
    return int(np.floor(fraction * n + 1e-9))


# --------------------------------------------------------------------------- assignment
def _sorted_unique(a: np.ndarray, kind: str | None = None) -> np.ndarray:
    """Distinct values of an int array, sorted (sort-based; numpy's hash-based
    ``np.unique`` is several times slower on tens of millions of int64). ``kind="stable"``
    (timsort, adaptive) is linear when ``a`` is a few sorted runs put end to end."""
    a = np.sort(a, kind=kind)
    if a.size:
        a = a[np.concatenate([[True], a[1:] != a[:-1]])]
    return a


def assign_workers(rng: np.random.Generator, n_workers: int, per_task: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Draw, for every task ``i``, a uniform subset of ``per_task[i]`` distinct workers.

    Returns ``(task, worker)`` sorted by task then worker, in O(votes) memory (plus
    blocks of at most :data:`CHUNK` entries). Three regimes, each vectorised:

    * ``m_i = n_workers``: every worker, no randomness.
    * ``m_i <= n_workers / 2`` ("sparse"): :func:`distinct_workers` draws ``m_i``
      distinct workers by rejection.
    * ``m_i > n_workers / 2`` ("dense"): :func:`distinct_workers` draws the
      ``n_workers - m_i`` workers who do *not* answer (the complement of a uniform subset
      is a uniform subset), and a boolean ``(block, n_workers)`` mask turns them into the
      ``m_i`` who do. The mask costs less than twice the votes it produces.
    """
    per_task = np.asarray(per_task, dtype=np.int64)
    n_tasks = per_task.size
    start = np.zeros(n_tasks + 1, dtype=np.int64)
    np.cumsum(per_task, out=start[1:])
    task = np.repeat(np.arange(n_tasks, dtype=np.int64), per_task)
    worker = np.empty(task.size, dtype=np.int64)

    def place(tt: np.ndarray, w: np.ndarray) -> None:
        # w lists the workers of tasks tt (increasing), task by task, each sorted
        counts = per_task[tt]
        first = np.cumsum(counts) - counts
        worker[np.repeat(start[tt] - first, counts) + np.arange(w.size)] = w

    full = per_task == n_workers
    if full.any():
        tt = np.flatnonzero(full)
        place(tt, np.tile(np.arange(n_workers, dtype=np.int64), tt.size))
    dense = ~full & (2 * per_task > n_workers)
    partial = np.flatnonzero(~full)
    if partial.size:
        size = np.where(dense[partial], n_workers - per_task[partial], per_task[partial])
        t_loc, w = distinct_workers(rng, n_workers, size)
        is_dense = dense[partial][t_loc]
        sparse_tt = partial[~dense[partial]]
        place(sparse_tt, w[~is_dense])
        # dense: the workers drawn are the ones left out
        dense_loc = np.flatnonzero(dense[partial])
        t_out, w_out = t_loc[is_dense], w[is_dense]
        step = max(1, CHUNK // max(n_workers, 1))
        for a in range(0, dense_loc.size, step):
            loc = dense_loc[a:a + step]
            lo, hi = np.searchsorted(t_out, [loc[0], loc[-1] + 1])
            rank = np.searchsorted(loc, t_out[lo:hi])
            mask = np.ones((loc.size, n_workers), dtype=bool)
            mask[rank, w_out[lo:hi]] = False
            place(partial[loc], np.nonzero(mask)[1].astype(np.int64, copy=False))
    return task, worker


def distinct_workers(rng: np.random.Generator, n_workers: int, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each ``i``, a uniform set of ``size[i] <= n_workers / 2`` distinct workers.

    Rejection, vectorised over all sets: draw ``size[i]`` workers with replacement, keep
    the distinct ones, draw again the shortfall of the sets still short, and so on (each
    round touches only those sets). With ``size[i] <= n_workers / 2`` a draw repeats with
    probability below 1/2, so the shortfall shrinks geometrically. Every step depends on
    the workers only through set membership, so the final set's law is invariant under
    any relabelling of the workers: it is uniform among the sets of its size.

    Returns ``(set index, worker)`` sorted by set then worker.
    """
    size = np.asarray(size, dtype=np.int64)
    n_sets = size.size
    n = np.int64(n_workers)
    keys = _sorted_unique(np.repeat(np.arange(n_sets, dtype=np.int64), size) * n
                          + rng.integers(0, n_workers, size=int(size.sum())))
    pending = np.ones(n_sets, dtype=bool)
    done = []
    while keys.size:
        owner = keys // n
        missing = np.where(pending, size - np.bincount(owner, minlength=n_sets), 0)
        short = missing > 0
        finished = ~short[owner]
        done.append(keys[finished])
        if not short.any():
            break
        again = np.repeat(np.flatnonzero(short), missing[short])
        fresh = np.sort(again * n + rng.integers(0, n_workers, size=again.size))
        keys = _sorted_unique(np.concatenate([keys[~finished], fresh]), kind="stable")
        pending = short
    keys = np.sort(np.concatenate(done), kind="stable") if len(done) > 1 else (done[0] if done else keys)
    return keys // n, keys % n


def assign_capped(rng: np.random.Generator, n_workers: int, n_tasks: int, feedback: int, workerload: int,
                  imbalance_votes: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Workers per task when each worker answers at most ``workerload`` tasks.

    The law of peerannot's ``--workerload``: tasks are served in order; task ``i`` gets
    ``m_i = min(feedback, a_i)`` distinct workers (``imbalance_votes``: ``m_i`` uniform in
    ``1..min(feedback, a_i)``), drawn uniformly among the ``a_i`` workers who have answered
    fewer than ``workerload`` tasks so far. Later tasks get fewer votes once workers run
    out; a task with no worker left is an :class:`~crowdwise.errors.InputError`.

    Exact and vectorised by batches of tasks: with ``r`` the smallest remaining load among
    the available workers, the next ``r`` tasks all see the same available workers (none
    can reach its cap before the last of them), so they are drawn at once by
    :func:`assign_workers`. Returns ``(task, worker)`` sorted by task.
    """
    from ..errors import InputError

    def exhausted(i: int) -> InputError:
        return InputError(
            f"the {n_workers} workers answering at most {workerload} task(s) each run out of answers at task {i} of "
            f"{n_tasks} (each task takes up to {feedback} of them)",
            fix=f"raise the workerload, add workers, or lower the feedback: n_workers x workerload must cover "
                f"the votes of all {n_tasks} tasks")

    if n_workers * workerload < n_tasks:
        raise exhausted(n_workers * workerload)
    load = np.zeros(n_workers, dtype=np.int64)
    tasks, workers = [], []
    i = 0
    while i < n_tasks:
        avail = np.flatnonzero(load < workerload)
        if not avail.size:
            raise exhausted(i)
        cap = min(feedback, avail.size)
        b = int(min((workerload - load[avail]).min(), n_tasks - i))
        m = rng.integers(1, cap + 1, size=b) if imbalance_votes else np.full(b, cap, dtype=np.int64)
        t, w = assign_workers(rng, avail.size, m)
        w = avail[w]
        load += np.bincount(w, minlength=n_workers)
        tasks.append(t + i)
        workers.append(w)
        i += b
    return np.concatenate(tasks), np.concatenate(workers)


def assign(rng: np.random.Generator, n_workers: int, n_tasks: int, feedback: int, *, imbalance_votes: bool = False,
           workerload: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Which workers answer which task: ``feedback`` distinct workers per task (uniform in
    ``1..feedback`` with ``imbalance_votes``), each worker answering at most ``workerload``
    tasks when given (:func:`assign_capped`). Returns ``(task, worker)`` sorted by task."""
    if workerload is not None and workerload < n_tasks:
        return assign_capped(rng, n_workers, n_tasks, feedback, workerload, imbalance_votes)
    if imbalance_votes:
        per_task = rng.integers(1, feedback + 1, size=n_tasks)
    else:
        per_task = np.full(n_tasks, feedback, dtype=np.int64)
    return assign_workers(rng, n_workers, per_task)


# --------------------------------------------------------------------------- confusion rows
def dirichlet_rows(rng: np.random.Generator, alpha: np.ndarray, swap: np.ndarray, true_class: np.ndarray,
                   n_classes: int) -> np.ndarray:
    """Draw confusion rows ``pi ~ Dirichlet(alpha_r * 1_K)``, one per entry of ``alpha``.

    Drawn as normalised Gamma variables, in log space so that small concentrations do not
    underflow: for ``alpha < 1``, ``log G = log G' + log(U) / alpha`` with
    ``G' ~ Gamma(alpha + 1)`` and ``U ~ U(0, 1]`` (Marsaglia & Tsang's boost). With
    ``alpha = 1`` the Gammas are plain exponentials. Where ``swap`` is set, the entry of
    the true class is exchanged with the row maximum, so that the correct answer is the
    most likely one (the construction of peerannot's ``independent-confusion``).
    Returns ``(n, K)``.
    """
    n = alpha.size
    if n and (alpha == 1.0).all():  # Gamma(1) = Exp(1), several times faster to draw
        g = rng.standard_exponential((n, n_classes))
        rows = g / g.sum(axis=1, keepdims=True)
    else:
        small = alpha < 1.0
        shape = np.where(small, alpha + 1.0, alpha)
        logg = np.log(rng.standard_gamma(np.broadcast_to(shape[:, None], (n, n_classes))))
        idx = np.flatnonzero(small)
        if idx.size:
            logg[idx] += np.log1p(-rng.random((idx.size, n_classes))) / alpha[idx, None]
        logg -= logg.max(axis=1, keepdims=True)
        rows = np.exp(logg)
        rows /= rows.sum(axis=1, keepdims=True)
    idx = np.flatnonzero(swap)
    if idx.size:
        c = true_class[idx]
        m = rows[idx].argmax(axis=1)
        at_c, at_m = rows[idx, c], rows[idx, m]
        rows[idx, m] = at_c
        rows[idx, c] = at_m
    return rows


def _rows_in_chunks(rng: np.random.Generator, crowd: _Crowd, owner: np.ndarray, true_class: np.ndarray,
                    n_classes: int) -> np.ndarray:
    """Rows of the ``(owner, true_class)`` pairs, drawn in blocks of :data:`CHUNK` entries."""
    out = np.empty((owner.size, n_classes))
    step = max(1, CHUNK // n_classes)
    for a in range(0, owner.size, step):
        o = owner[a:a + step]
        out[a:a + step] = dirichlet_rows(rng, crowd.alpha[o], crowd.swap[o], true_class[a:a + step], n_classes)
    return out


def draw_from_rows(rng: np.random.Generator, cum: np.ndarray, row: np.ndarray, out: np.ndarray) -> None:
    """``out[v] ~ Categorical(row row[v] of the cumulative table cum)`` by inverse CDF.

    ``cum`` holds cumulative sums of probability rows, shape ``(n_rows, K)``. With
    ``u ~ U(0, 1]`` scaled by the row total, the label is ``#{k : cum[k] < u}``, which
    never selects a class of probability 0. Votes are processed in blocks of
    :data:`CHUNK` entries; one uniform per vote, in vote order.
    """
    k = cum.shape[1]
    step = max(1, CHUNK // k)
    for a in range(0, row.size, step):
        c = cum[row[a:a + step]]
        u = (1.0 - rng.random(c.shape[0])) * c[:, -1]
        out[a:a + step] = (c < u[:, None]).sum(axis=1)
    np.minimum(out, k - 1, out=out)


# --------------------------------------------------------------------------- the whole run
def run(rng: np.random.Generator, truth: np.ndarray, n_classes: int, crowd: _Crowd, per_task: np.ndarray | None,
        difficulty: np.ndarray | None = None,
        assignment: tuple[np.ndarray, np.ndarray] | None = None
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Draw the votes of a crowd.

    ``assignment``: the ``(task, worker)`` pairs already drawn (e.g. by
    :func:`assign_capped`), used instead of drawing ``per_task`` workers per task.

    Returns ``task, worker, label`` (sorted by task then worker) and the effective
    confusion tensor ``(n_workers, K, K)`` when ``n_workers * K * K <=
    CONFUSION_LIMIT`` (or when the user gave one), else None.

    Precedence of the answer rules, per vote: a UNIFORM worker (spammer) or a "random"
    task gives a uniform label; an "easy" task or a PERFECT worker gives the truth;
    otherwise the label is drawn from the row ``confusion[source[worker], truth[task]]``.
    """
    n_workers = crowd.kind.size
    k = n_classes
    task, worker = assign_workers(rng, n_workers, per_task) if assignment is None else assignment
    kind = crowd.kind[worker]
    diff = np.zeros(task.size, np.int8) if difficulty is None else difficulty[task]
    y = truth[task]
    label = np.empty(task.size, dtype=np.int64)

    uniform = (kind == UNIFORM) | (diff == RANDOM)
    exact = ~uniform & ((kind == PERFECT) | (diff == EASY))
    via_rows = ~uniform & ~exact
    label[uniform] = rng.integers(0, k, size=int(uniform.sum()))
    label[exact] = y[exact]

    confusions = None
    rows_v = np.flatnonzero(via_rows)
    src_v = crowd.source[worker[rows_v]]
    if crowd.given is not None or n_workers * k * k <= CONFUSION_LIMIT:
        if crowd.given is not None:
            table = np.array(crowd.given, dtype=float)[crowd.source]
        else:
            table = np.zeros((n_workers, k, k))
            owners = np.unique(crowd.source[crowd.kind == CONFUSION])
            pair_owner = np.repeat(owners, k)
            pair_class = np.tile(np.arange(k), owners.size)
            table[owners] = _rows_in_chunks(rng, crowd, pair_owner, pair_class, k).reshape(owners.size, k, k)
            table = table[crowd.source]
        out = np.empty(rows_v.size, dtype=np.int64)
        # cumulative table over workers (sources already resolved), row index = worker*K + class
        cum = np.cumsum(table.reshape(-1, k), axis=1)
        draw_from_rows(rng, cum, worker[rows_v] * k + y[rows_v], out)
        label[rows_v] = out
        table[crowd.kind == PERFECT] = np.eye(k)
        table[crowd.kind == UNIFORM] = 1.0 / k
        confusions = table
    elif rows_v.size:
        # only the (owner, true class) rows that a vote needs, a block of rows at a time
        pair = src_v * k + y[rows_v]
        order = np.argsort(pair, kind="stable")
        ps = pair[order]
        new_pair = np.concatenate([[True], ps[1:] != ps[:-1]])
        uniq = ps[new_pair]
        rank = np.cumsum(new_pair) - 1  # index in uniq of each vote's pair, in sorted order
        step = max(1, CHUNK // k)
        for a in range(0, uniq.size, step):
            b = min(a + step, uniq.size)
            rows = dirichlet_rows(rng, crowd.alpha[uniq[a:b] // k], crowd.swap[uniq[a:b] // k], uniq[a:b] % k, k)
            lo, hi = np.searchsorted(rank, [a, b])
            out = np.empty(hi - lo, dtype=np.int64)
            draw_from_rows(rng, np.cumsum(rows, axis=1), rank[lo:hi] - a, out)
            label[rows_v[order[lo:hi]]] = out
    return task, worker, label, confusions
