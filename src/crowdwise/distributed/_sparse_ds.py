"""Dawid-Skene's sparse mode on Dask: sparse posteriors per block, sparse pair sums reduced.

The in-memory sparse mode (:mod:`crowdwise.aggregate._sparse_ds`, ``prior = 0``; Dawid &
Skene 1979) freezes, before its first M-step, the support closure ``P*`` of the starting
posterior (the smallest pattern containing ``supp T0`` that EM cannot leave), then runs
every step on it (:class:`~crowdwise.aggregate._sparse_ds.FixedPattern`):

- M-step: ``S[(j, l), k] = sum over the votes (i, j, l) of T_ik`` at the stored (pair,
  class) entries, ``n_jk = sum_l S[(j, l), k]``, ``log pi_j[k, l] = log S - log n_jk``
  (``-inf`` for 0/0: a class the worker never met is ruled out), ``rho_k ∝ sum_i T_ik``
  over the voted tasks;
- E-step: ``log T_ik = log rho_k + sum_{votes (i, j, l)} log pi_j[k, l] - log Z_i`` on the
  entries of ``P*`` only.

Distributed, a task's votes live in one block, so each block holds the rows of ``P*`` and
``T`` of its tasks (CSR, local tasks x K) and the per-block part of the fixed pattern;
the (worker, label) pairs are shared between blocks and reduced on the client:

1. support closure: one round is ``Q = A_pt @ P`` (pairs x K, the classes each pair has
   reached: per block, then the union of the blocks' keys on the client) and ``P <- {(i,
   k): every vote cell of i reaches k in Q}`` (per block, with the block's rows of ``Q``);
   rounds go on until the pattern stops growing (its total size, as in memory);
2. each block builds its :class:`FixedPattern`; its pair-sum entries are mapped to the
   global ones (the blocks' pairs to the global pairs with the ``gkeys`` of the dense
   adapter, then the entries to the sorted union of the blocks' entries);
3. EM: each block sends its ``S_b`` (its entries of ``S``) and its class shares; the
   client adds them in block order, makes ``log pi`` and ``rho`` with the in-memory
   formulas, and sends each block the log-confusions of its own entries; the blocks run
   the E-step of :class:`FixedPattern` on their tasks. SQUAREM (Varadhan & Roland 2008)
   jumps on the entries of the pattern, its step length reduced from per-block norms.

The answer is the in-memory one (labels identical, probabilities within 1e-9): the same
pattern, the same entries, the same formulas; only the order in which ``S`` adds the
blocks' partial sums differs (rounding). Tie draws: the in-memory labels are
``argmax_ties(T, "random", seed)`` on the CSR ``T``, one uniform per stored entry, row
after row, then one integer per row without a positive entry; block ``b`` draws at the
offset of the entries of the blocks before it, and the integers of the empty rows (none
in a fit from votes) are drawn on the client after every entry's draw.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
from scipy import sparse

from ..aggregate import argmax_ties
from ..aggregate.dawid_skene import (FixedPattern, SparseParams, closure_step, sparse_confusions,
                                     sparse_initial_posteriors)
from ..errors import InputError
from ._driver import Engine, Shared, StateRef, draw_generator, run_em, seed_of
from ._strategies import _DS, _distinct

__all__ = ["fit_sparse_ds"]

#: the tie tolerance of argmax_ties
_RTOL = 1e-12


# ---------------------------------------------------------------------- on the blocks: closure
def _start(block: Any, init: str) -> tuple:
    """The starting posterior of the block's tasks (as in memory) and its pattern."""
    v = block.votes
    T0 = sparse_initial_posteriors(v.counts(), v.n_classes, init)
    P = sparse.csr_array((np.ones(T0.nnz), T0.indices.copy(), T0.indptr.copy()), shape=T0.shape)
    P.sum_duplicates()
    return T0, P


def _reach(ctx: Any, P: sparse.csr_array, idx: np.ndarray) -> np.ndarray:
    """Keys ``global pair * K + k`` of ``Q = A_pt @ P`` on the block (the classes each of
    its pairs reaches)."""
    k = P.shape[1]
    Q = sparse.csr_array(sparse.csr_array(ctx.pair_task) @ P)
    Q.sum_duplicates()
    rows = np.repeat(np.arange(Q.shape[0], dtype=np.int64), np.diff(Q.indptr))
    return idx[rows].astype(np.int64) * k + Q.indices


def _start_reach(block: Any, ctx: Any, init: str, idx: np.ndarray) -> tuple:
    _, P = _start(block, init)
    return P, (int(P.nnz), _reach(ctx, P, idx)), None


def _grow(ctx: Any, P: sparse.csr_array, Qb: sparse.csr_array, idx: np.ndarray) -> tuple:
    """One round of the support closure on the block's tasks
    (:func:`crowdwise.aggregate.dawid_skene.closure_step`), with ``Qb`` the rows of the
    global ``Q`` at the block's pairs."""
    new = closure_step(P, ctx.task_pair, sparse.csr_array(Qb), ctx.task_pair.sum(axis=1))
    return new, (int(new.nnz), _reach(ctx, new, idx)), None


# ---------------------------------------------------------------------- on the blocks: EM
def _fix(block: Any, ctx: Any, P: sparse.csr_array, init: str, idx: np.ndarray) -> tuple:
    """The block's :class:`FixedPattern`, its starting posterior on it, and the keys
    ``global pair * K + k`` of its pair-sum entries."""
    v = block.votes
    fx = FixedPattern(P, ctx.task_pair, ctx.pair_worker, ctx.by_task.keys, v.n_workers)
    T0, _ = _start(block, init)
    t0 = fx.embed(T0).data
    s_pair = np.repeat(np.arange(len(fx.s_indptr) - 1, dtype=np.int64), np.diff(fx.s_indptr))
    keys = idx[s_pair].astype(np.int64) * fx.k + fx.s_indices
    return fx, t0, keys


def _fx_of(out: tuple) -> Any:
    return out[0]


def _t0_stats(out: tuple) -> tuple:
    fx, t0, keys = out
    return t0, keys, _stats(fx, t0)


def _stats(fx: Any, t: np.ndarray) -> tuple:
    """The block's part of the M-step: its entries of ``S`` and its class shares."""
    w = t[fx.ent]
    if not fx.unit:
        w = w * fx.mult
    S = np.bincount(fx.pos, weights=w, minlength=fx.wkey.size)
    shares = np.bincount(fx.indices[fx.voted_ent], weights=t[fx.voted_ent], minlength=fx.k)
    return S, shares


def _e(fx: Any, priors: np.ndarray, lp: np.ndarray) -> tuple:
    """The E-step of the block (``lp``: the log-confusions of its entries of ``S``)."""
    T, obj = fx.e_step(SimpleNamespace(priors=priors, log_pi=SimpleNamespace(data=lp)))
    return T.data, obj, _stats(fx, T.data)


def _sq_norms(fx: Any, s0: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> tuple:
    """``||s1 - s0||^2`` and ``||s2 - 2 s1 + s0||^2`` on the block's entries, by the chunks
    of the in-memory ``squarem_point``."""
    step = 1 << 16
    nr2 = nv2 = 0.0
    for a in range(0, s0.size, step):
        r = s1[a:a + step] - s0[a:a + step]
        v = s2[a:a + step] - s0[a:a + step]
        v -= 2.0 * r
        nr2 += float(np.einsum("i,i->", r, r))
        nv2 += float(np.einsum("i,i->", v, v))
    return nr2, nv2


def _sq_point(fx: Any, s0: np.ndarray, s1: np.ndarray, s2: np.ndarray, alpha: float) -> tuple:
    """The SQUAREM point on the block's entries: clipped at 0, each row renormalised (a row
    that vanishes keeps ``s2``)."""
    a2 = alpha * alpha
    point = s0 * (1.0 - a2)
    point += (-2.0 * alpha * (1.0 + alpha)) * (s1 - s0)
    point += a2 * s2
    np.maximum(point, 0.0, out=point)
    rows = fx.ent_row
    tot = np.bincount(rows, weights=point)
    bad = ~(tot > 0)
    tot[bad] = 1.0
    point /= tot[rows]
    fix = bad[rows]
    if fix.any():
        point[fix] = s2[fix]
    return point, None, _stats(fx, point)


def _empty_rows(fx: Any, t: np.ndarray) -> np.ndarray:
    """The rows ``argmax_ties`` finds without a candidate (no positive entry), as a mask."""
    n = fx.shape[0]
    lengths = np.diff(fx.indptr)
    row_of = fx.ent_row
    has = lengths > 0
    rowmax = np.full(n, -np.inf)
    if t.size:
        rowmax[has] = np.maximum.reduceat(t, fx.indptr[:-1][has])
    ok = (t >= rowmax[row_of] - _RTOL * np.abs(rowmax[row_of])) & (t > 0)
    return np.bincount(row_of[ok], minlength=n) == 0


def _n_empty(fx: Any, t: np.ndarray) -> int:
    return int(_empty_rows(fx, t).sum())


def _final(fx: Any, t: np.ndarray, tie: str, draw: Any, empty_labels: Any) -> dict:
    T = sparse.csr_array((t, fx.indices, fx.indptr), shape=fx.shape)
    if tie == "random":
        labels = argmax_ties(T, tie="random", random_state=draw_generator(draw), rtol=_RTOL)
        if empty_labels is not None and len(empty_labels):
            labels[_empty_rows(fx, t)] = empty_labels
    else:
        labels = argmax_ties(T, tie=tie, rtol=_RTOL)
    return {"probas": T, "labels": labels, "n_draws": 0}


def _size(fx: Any) -> int:
    return int(fx.indices.size)


# ---------------------------------------------------------------------- the adapter
class _SparseDS(_DS):
    """The distributed steps of DS's sparse mode (see the module docstring)."""

    squarem = True

    def __init__(self, eng: Engine, model: Any) -> None:
        super().__init__(eng, model)  # the blocks' contexts, the global pairs (gkeys) and idx
        self.init_name = str(model._start())

    def _closure(self, eng: Engine) -> list:
        """The support closure of the starting posteriors, per block (futures)."""
        k = self.k
        n_pairs = self.gkeys.size
        out = eng.map(_start_reach, eng.enc.blocks, self.ctxs, Shared(self.init_name), self.idx_f)
        pats = eng.part(out, 0)
        small = eng.gather(eng.part(out, 1))
        total = sum(s[0] for s in small)
        while True:
            keys = _distinct(np.concatenate([s[1] for s in small])) if small else np.zeros(0, np.int64)
            rows, cols = np.divmod(keys, k)
            Q = sparse.csr_array((np.ones(keys.size), cols, np.r_[0, np.cumsum(np.bincount(rows, minlength=n_pairs))]),
                                 shape=(n_pairs, k))
            out = eng.map(_grow, self.ctxs, pats, [Q[i] for i in self.idx], self.idx_f)
            pats = eng.part(out, 0)
            small = eng.gather(eng.part(out, 1))
            new_total = sum(s[0] for s in small)
            if new_total == total:
                return pats
            total = new_total

    def init(self, eng: Engine) -> StateRef:
        k = self.k
        pats = eng.retry(lambda: self._closure(eng))
        fixed = eng.map(_fix, eng.enc.blocks, self.ctxs, pats, Shared(self.init_name), self.idx_f)
        self.fxs = eng.part(fixed, 0)
        self.sizes = eng.gather(eng.map(_size, self.fxs))
        futs = eng.map(_t0_stats, fixed)
        small = eng.gather(eng.client.map(_keys_stats, futs, pure=False))
        # the entries of S: the sorted union of the blocks' (global pair, class) keys
        self.skeys = _distinct(np.concatenate([s[0] for s in small])) if small else np.zeros(0, np.int64)
        self.spos = [np.searchsorted(self.skeys, s[0]) for s in small]
        s_pair, self.s_col = np.divmod(self.skeys, k)
        self.s_indptr = np.r_[0, np.cumsum(np.bincount(s_pair, minlength=self.gkeys.size))].astype(np.int64)
        # n_jk keys (worker, class) of each entry, numbered among those present
        _, self.winv = np.unique(self.fake_ctx.pair_worker[s_pair] * k + self.s_col, return_inverse=True)
        self.winv = self.winv.ravel()
        self.n_w = int(self.winv.max()) + 1 if self.winv.size else 0
        return StateRef(eng.part(futs, 0), [s[1] for s in small])

    def stats_of(self, eng: Engine, ref: StateRef) -> list:
        if ref.stats is None:
            ref.stats = eng.gather(eng.map(_stats, self.fxs, ref.futs))
        return ref.stats

    def m_step(self, eng: Engine, state: StateRef, iterating: bool) -> Any:
        """``S`` added in block order, ``log pi = log S - log n_jk`` and ``rho`` (the
        arithmetic of :meth:`FixedPattern.m_step`)."""
        k = self.k
        stats = self.stats_of(eng, state)
        S = np.zeros(self.skeys.size)
        for pos, st in zip(self.spos, stats):
            S[pos] += st[0]
        shares = np.sum([st[1] for st in stats], axis=0) if stats else np.zeros(k)
        tot = np.bincount(self.winv, weights=S, minlength=self.n_w)
        with np.errstate(divide="ignore", invalid="ignore"):
            lp = np.log(S) - np.log(tot[self.winv])
        lp[np.isnan(lp)] = -np.inf  # a class with no mass anywhere for this worker
        total = shares.sum()
        priors = shares / total if total > 0 else np.full(k, 1.0 / k)
        shape = (self.gkeys.size, k)
        return SparseParams(priors, sparse.csr_array((lp, self.s_col, self.s_indptr), shape=shape),
                                 sparse.csr_array((S, self.s_col, self.s_indptr), shape=shape), eng.enc.n_workers)

    def e_step(self, eng: Engine, params: Any, iterating: bool) -> tuple[StateRef, float]:
        lp = params.log_pi.data
        ref, objs = eng.map_state(_e, self.fxs, Shared(params.priors), [lp[pos] for pos in self.spos])
        return ref, float(sum(objs))

    def log_prior(self, params: Any) -> float:
        return 0.0  # prior = 0: the objective is the log-likelihood

    def squarem_point(self, eng: Engine, r0: StateRef, r1: StateRef, r2: StateRef) -> StateRef | None:
        norms = eng.gather(eng.map(_sq_norms, self.fxs, r0.futs, r1.futs, r2.futs))
        nr2 = sum(x[0] for x in norms)
        nv2 = sum(x[1] for x in norms)
        if not (nv2 > 0 and np.isfinite(nr2) and np.isfinite(nv2)):
            return None
        alpha = min(-np.sqrt(nr2 / nv2), -1.0)
        return eng.map_state(_sq_point, self.fxs, r0.futs, r1.futs, r2.futs, Shared(float(alpha)))[0]


def _keys_stats(out: tuple) -> tuple:
    return out[1], out[2]


# ---------------------------------------------------------------------- the fit
def fit_sparse_ds(eng: Engine, model: Any) -> dict:
    """DS's sparse mode on the engine's blocks: the fitted attributes of the in-memory
    ``DawidSkene(sparse=True)`` (``confusions_`` CSR ``(n_workers * K, K)``,
    ``never_met_ = None``, ``sparse_mode_ = True``, CSR ``probas_``)."""
    if float(model.prior) > 0:
        raise InputError("the sparse mode is exact only without smoothing (prior=0)",
                         fix="set prior=0 or sparse=False")
    k, w = eng.enc.n_classes, eng.enc.n_workers
    ad = _SparseDS(eng, model)
    run = run_em(ad, eng, model, accelerate=bool(model.accelerate))
    params = run.params
    tie = model.tie
    draws: list = [None] * eng.n_blocks
    empties: list = [None] * eng.n_blocks
    if tie == "random":
        seed = seed_of(model.random_state)
        offsets = eng.draw_offsets(ad.sizes)
        draws = [(seed, o) for o in offsets]
        n_empty = eng.gather(eng.map(_n_empty, ad.fxs, run.state.futs))
        if sum(n_empty):  # drawn after every stored entry's uniform, as in memory
            g = draw_generator((seed, int(sum(ad.sizes))))
            ints = g.integers(0, k, size=int(sum(n_empty)))
            cut = np.r_[0, np.cumsum(n_empty)]
            empties = [ints[cut[b]:cut[b + 1]] for b in range(eng.n_blocks)]
    parts = eng.map(_final, ad.fxs, run.state.futs, Shared(tie), draws, empties)
    pw, pl = ad.fake_ctx.pair_worker, ad.fake_ctx.pair_label
    conf = sparse_confusions(params, pw, pl, w, k)
    return {"parts": parts, "priors_": params.priors, "confusions_": conf, "never_met_": None,
            "sparse_mode_": True, "run": run}
