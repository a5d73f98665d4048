"""The strategies on Dask: each one's map (per-block statistics, computed by the kernels
of the in-memory strategy on the block's votes) and reduce (on the client, with the
in-memory formulas), so that a distributed fit gives the in-memory result.

- one pass: MV, NaiveSoft, TwoThird (per-task counts: a block holds all of a task's votes);
- two passes: WAWA (skills = per-worker agreement with the majority vote, reduced; then
  the weighted vote);
- iterative, one map-reduce per iteration: PlantNet and its AI variants (per-worker
  species counts reduced as the set of (worker, species) pairs credited), OneCoinDS (one
  accuracy per worker), DS (per-pair confusion sums; SQUAREM jumps whose step length is
  reduced from per-block norms), GLAD (abilities by Newton steps whose per-worker terms
  are reduced; task difficulties stay in their block).

The class of each strategy is the in-memory one: its hyper-parameters, its hooks
(``_context``, ``_init_state``, ``_e_step``, ``_probas_of``...) run on the blocks, and
the fitted attributes are set on a copy of it (:class:`~crowdwise.distributed.DistributedResult`).
"""

from __future__ import annotations

import copy
import hashlib
from types import SimpleNamespace
from typing import Any

import numpy as np
from scipy import sparse

from ..aggregate import (DawidSkene, GLAD, MajorityVote, NaiveSoft, OneCoinDS, PlantNet, TwoThird, WAWA,
                         argmax_ties, as_probas)
from ..errors import InputError
from ..utils import argmax_shares, check_random_state
from ._driver import EMAdapter, Engine, Shared, StateRef, draw_generator, n_drawn, run_em, seed_of

__all__ = ["fit_distributed", "SUPPORTED"]

#: DENSE_PROBAS_LIMIT of crowdwise.aggregate: above n_tasks x K cells, soft labels are CSR
_DENSE_LIMIT = 2**25
#: the tie tolerance of argmax_ties (and PlantNet's sole-top test)
_RTOL = 1e-12

SUPPORTED = ("MV", "NaiveSoft", "TwoThird", "WAWA", "PlantNet", "PlantNet-AIconfident", "PlantNet-AIinvalidating",
             "PlantNet-AIfixed", "PlantNet-AIworker", "OneCoinDS", "DS", "GLAD")


def _dense(model: Any, eng: Engine) -> bool:
    d = getattr(model, "dense", None)
    return eng.enc.n_tasks * eng.enc.n_classes <= _DENSE_LIMIT if d is None else bool(d)


def _final(eng: Engine, fn: Any, args: list, random: bool, seed: int | None) -> list:
    """Map the final step ``fn(*args, draw)``; with random ties, a first pass counts each
    block's draws and the second draws them at their offsets."""
    if not random:
        return eng.map(fn, *args, Shared(None))
    counts = eng.gather(eng.map(_count_only, eng.map(fn, *args, Shared("count"))))
    offsets = eng.draw_offsets(counts)
    return eng.map(fn, *args, [(seed, o) for o in offsets])


def _count_only(out: dict) -> int:
    return int(out["n_draws"])


def _rng_or(rng: Any, model: Any) -> Any:
    return rng if rng is not None else getattr(model, "random_state", None)


# ---------------------------------------------------------------------- MV, NaiveSoft, TwoThird
def _vote_final(block: Any, model: Any, dense: bool, draw: Any) -> dict:
    v = block.votes
    counts = v.counts()
    rng = draw_generator(draw)
    out = {"probas": as_probas(counts, dense=dense),
           "labels": argmax_ties(counts, tie=model.tie, random_state=_rng_or(rng, model))}
    if isinstance(model, TwoThird):
        n = np.bincount(v.task, minlength=v.n_tasks)
        top = counts.max(axis=1).toarray().ravel() if counts.nnz else np.zeros(v.n_tasks)
        share = np.divide(top, n, out=np.zeros(v.n_tasks), where=n > 0)
        out["valid"] = (n >= model.min_votes) & (share >= model.threshold - 1e-12)
    out["n_draws"] = n_drawn(rng)
    return out


def _fit_votes(eng: Engine, model: Any) -> dict:
    random = model.tie == "random"
    seed = seed_of(model.random_state) if random else None
    parts = _final(eng, _vote_final, [eng.enc.blocks, Shared(model), Shared(_dense(model, eng))], random, seed)
    return {"parts": parts}


# ---------------------------------------------------------------------- WAWA
def _wawa_stats(block: Any) -> tuple:
    v = block.votes
    counts = v.counts()
    agree = argmax_shares(counts).data[v.task_label_pattern()[2]]
    return (np.bincount(v.worker, weights=agree, minlength=v.n_workers),
            np.bincount(v.worker, minlength=v.n_workers).astype(float))


def _wawa_final(block: Any, model: Any, skills: np.ndarray, dense: bool, draw: Any) -> dict:
    """``skills``: those of the block's workers."""
    from ..aggregate import wawa

    v = block.votes
    counts = v.counts()
    scores = wawa._weighted_scores(v, skills, counts)
    rng = draw_generator(draw)
    return {"probas": as_probas(scores, dense=dense),
            "labels": argmax_ties(scores, tie=model.tie, random_state=_rng_or(rng, model)), "n_draws": n_drawn(rng)}


def _fit_wawa(eng: Engine, model: Any) -> dict:
    stats = eng.gather(eng.map(_wawa_stats, eng.enc.blocks))
    hits = eng.worker_sum([s[0] for s in stats])
    n = eng.worker_sum([s[1] for s in stats])
    skills = np.divide(hits, n, out=np.zeros(eng.enc.n_workers), where=n > 0)
    random = model.tie == "random"
    seed = seed_of(model.random_state) if random else None
    parts = _final(eng, _wawa_final, [eng.enc.blocks, Shared(model), eng.slices(skills),
                                      Shared(_dense(model, eng))], random, seed)
    return {"parts": parts, "skills_": skills}


# ---------------------------------------------------------------------- PlantNet
def _pn_context(block: Any, model: Any) -> dict:
    """The per-block part of PlantNet's preamble (pairs, species credit structure)."""
    v = block.votes
    prep = model._prepare(v)
    n_tasks, k = v.n_tasks, v.n_classes
    pair_key, pair_of_vote = np.unique(prep.task * k + prep.label, return_inverse=True)
    pair_of_vote = pair_of_vote.ravel()
    pair_task, pair_label = pair_key // k, pair_key % k
    indptr = np.zeros(n_tasks + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_task, minlength=n_tasks), out=indptr[1:])
    sel = np.flatnonzero(prep.for_n)
    wl_key, wl_of = np.unique(prep.worker[sel] * k + prep.label[sel], return_inverse=True)
    wl_of = wl_of.ravel()
    auth = prep.authored[sel]
    a_sel, v_sel = sel[auth], sel[~auth]
    gkey = block.gworker[wl_key // k] * k + wl_key % k  # (worker, species) in global codes
    return dict(prep=prep, n_tasks=n_tasks, k=k, pair_key=pair_key, pair_of_vote=pair_of_vote,
                pair_task=pair_task, pair_label=pair_label, indices=pair_label, indptr=indptr, gkey=gkey,
                a_pair=pair_of_vote[a_sel], a_task=prep.task[a_sel], a_wl=wl_of[auth],
                v_pair=pair_of_vote[v_sel], v_wl=wl_of[~auth], gworker=block.gworker,
                n_ai=int(prep.n_ai_votes), n_pairs=int(pair_key.size))


def _pn_scores(c: dict, w: np.ndarray) -> sparse.csr_array:
    data = np.bincount(c["pair_of_vote"], weights=w[c["prep"].worker], minlength=c["pair_key"].size)
    return sparse.csr_array((data, c["indices"], c["indptr"]), shape=(c["n_tasks"], c["k"]))


def _pn_validity(c: dict, model: Any, m: sparse.csr_array, labels: np.ndarray) -> tuple:
    n_tasks, prep = c["n_tasks"], c["prep"]
    hit = c["pair_label"] == labels[c["pair_task"]]
    total = np.bincount(c["pair_task"], weights=m.data, minlength=n_tasks)
    conf = np.bincount(c["pair_task"], weights=np.where(hit, m.data, 0.0), minlength=n_tasks)
    if prep.inv_task.size:
        against = prep.inv_label != labels[prep.inv_task]
        total = total + float(model.ai_weight) * np.bincount(prep.inv_task[against], minlength=n_tasks)
    acc = np.divide(conf, total, out=np.zeros(n_tasks), where=total > 0)
    valid = (conf > float(model.theta_conf)) & (acc > float(model.theta_acc))
    return hit, conf, acc, valid


def _pn_labels(m: sparse.csr_array, model: Any, draw: Any) -> np.ndarray:
    return argmax_ties(m, tie=model.tie, random_state=draw_generator(draw), rtol=_RTOL)


def _pn_step(c: dict, model: Any, w: np.ndarray, prev: Any, draw: Any) -> tuple:
    """Labels at weights ``w`` and the (worker, species) pairs they credit."""
    m = _pn_scores(c, w)
    labels = _pn_labels(m, model, draw)
    hit, conf, _, valid = _pn_validity(c, model, m, labels)
    top = conf[c["pair_task"]]
    at_top = (m.data >= top - _RTOL * np.abs(top)) & (m.data > 0)
    n_top = np.bincount(c["pair_task"], weights=at_top, minlength=c["n_tasks"])
    credit = hit & at_top & (n_top[c["pair_task"]] == 1)
    has_a = np.zeros(c["gkey"].size, dtype=bool)
    has_a[c["a_wl"][credit[c["a_pair"]] & valid[c["a_task"]]]] = True
    has_v = np.zeros(c["gkey"].size, dtype=bool)
    has_v[c["v_wl"][credit[c["v_pair"]]]] = True
    same = prev is not None and np.array_equal(prev, labels)
    return labels, (c["gkey"][has_a], c["gkey"][has_v], same, hashlib.sha1(labels.tobytes()).digest())


def _pn_final(c: dict, model: Any, w: np.ndarray, dense: bool, draw: Any) -> dict:
    m = _pn_scores(c, w)
    labels = _pn_labels(m, model, draw)
    _, conf, acc, valid = _pn_validity(c, model, m, labels)
    return {"labels": labels, "valid": valid, "confidence": conf, "accuracy": acc,
            "probas": as_probas(m, dense=dense), "n_draws": 0}


def _fit_plantnet(eng: Engine, model: Any) -> dict:
    if getattr(model, "penalty", None) is not None:
        raise InputError(f"PlantNet with penalty={model.penalty!r} has no distributed version yet",
                         fix="use the default penalty=None with --engine dask, or the in-memory engine")
    enc = eng.enc
    k, n_workers = enc.n_classes, enc.n_workers
    # the AI's global code: the blocks know workers by global code
    ai_index = -1
    if model.ai_worker is not None and n_workers:
        hit = np.flatnonzero(enc.worker_ids.astype(str) == str(model.ai_worker))
        ai_index = int(hit[0]) if hit.size else -1
    local = copy.copy(model)
    local.ai_worker = str(ai_index) if ai_index >= 0 else None
    ctxs = eng.map(_pn_context, enc.blocks, Shared(local))
    random = model.tie == "random"
    draws: list = [None] * eng.n_blocks
    if random:
        seed = int(check_random_state(model.random_state).integers(2**63 - 1))
        sizes = eng.gather(eng.map(_pn_size, ctxs))
        draws = [(seed, o) for o in eng.draw_offsets(sizes)]
    vf = float(model.vote_factor)

    def weights(n: np.ndarray) -> np.ndarray:
        return model._worker_weights(n, ai_index)

    def step(w: np.ndarray, prev: list) -> tuple[list, list]:
        def run() -> tuple[list, list]:
            out = eng.map(_pn_step, ctxs, Shared(model), eng.slices(w), prev, draws)
            return eng.part(out, 0), eng.gather(eng.part(out, 1))

        return eng.retry(run)

    def counts(summ: list) -> np.ndarray:
        a = _distinct(np.concatenate([s[0] for s in summ]))
        v = _distinct(np.concatenate([s[1] for s in summ]))
        if a.size and v.size:  # a species counts once per user, as author when it can
            v = v[a[np.minimum(np.searchsorted(a, v), a.size - 1)] != v]
        n_a = np.bincount(a // k, minlength=n_workers)
        n_v = np.bincount(v // k, minlength=n_workers)
        return np.floor(n_a + vf * n_v + 0.5 + 1e-9).astype(np.int64)

    def digest(n: np.ndarray, summ: list) -> bytes:
        h = hashlib.sha1(n.tobytes())
        for s in summ:
            h.update(s[3])
        return h.digest()

    n_correct = np.zeros(n_workers, dtype=np.int64)
    w = weights(n_correct)
    labels, summ = step(w, [None] * eng.n_blocks)
    seen = {digest(n_correct, summ)}
    converged, it = False, 0
    for it in range(1, int(model.max_iter) + 1):
        n_new = counts(summ)
        w = weights(n_new)
        labels, summ = step(w, labels)
        converged = np.array_equal(n_new, n_correct) and all(s[2] for s in summ)
        n_correct = n_new
        model._tick(it, int(model.max_iter), None)
        if converged:
            break
        state = digest(n_correct, summ)
        if state in seen:
            break
        seen.add(state)
    parts = eng.map(_pn_final, ctxs, Shared(model), eng.slices(w), Shared(_dense(model, eng)), draws)
    n_ai = sum(eng.gather(eng.map(_pn_n_ai, ctxs)))
    return {"parts": parts, "weights_": w, "n_correct_": n_correct, "n_effective_": n_correct.astype(float),
            "n_iter_": it, "converged_": bool(converged), "n_ai_votes_": int(n_ai)}


def _distinct(x: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an int array (by sorting: NumPy's hash-based unique
    is several times slower on millions of 64-bit keys)."""
    x = np.sort(x, kind="stable")
    return x[np.r_[True, x[1:] != x[:-1]]] if x.size else x


def _pn_size(c: dict) -> int:
    return int(c["n_pairs"])


def _pn_n_ai(c: dict) -> int:
    return int(c["n_ai"])


# ---------------------------------------------------------------------- EM strategies: shared
def _context(block: Any, model: Any) -> Any:
    return model._context(block.votes)


def _init_state(block: Any, ctx: Any, model: Any) -> Any:
    return model._init_state(block.votes, ctx)


def _label_counts(block: Any) -> tuple:
    v = block.votes
    return np.bincount(v.label, minlength=v.n_classes), v.votes_per_worker().astype(float)


class _Base(EMAdapter):
    def __init__(self, eng: Engine, model: Any) -> None:
        self.model = model
        self.k = eng.enc.n_classes
        self.ctxs = eng.map(_context, eng.enc.blocks, Shared(model))
        stats = eng.gather(eng.map(_label_counts, eng.enc.blocks))
        self.label_counts = np.sum([s[0] for s in stats], axis=0)
        self.n_per_worker = eng.worker_sum([s[1] for s in stats])

    def init(self, eng: Engine) -> StateRef:
        return StateRef(eng.map(_init_state, eng.enc.blocks, self.ctxs, Shared(self.model)))

    def stats_of(self, eng: Engine, ref: StateRef) -> list:
        """The M-step statistics of the blocks' states (computed with them when possible)."""
        if ref.stats is None:
            ref.stats = eng.gather(eng.map(self.stats_fn, self.ctxs, ref.futs, *self.stats_args()))
        return ref.stats

    def stats_args(self) -> tuple:
        return ()


# ---------------------------------------------------------------------- OneCoinDS
def _ocds_stats(ctx: Any, s: Any, fit_priors: bool, k: int) -> tuple:
    right = np.bincount(ctx.vote_worker, s.t_cell[ctx.vote_cell], minlength=ctx.n_per_worker.size)
    if not fit_priors:
        return right, None
    g = s.scale()
    return right, (np.bincount(ctx.label, s.t_cell, minlength=k), float(g[ctx.voted].sum()),
                   np.bincount(ctx.label, g[ctx.task], minlength=k), s.priors)


def _ocds_e(block: Any, ctx: Any, model: Any, priors: np.ndarray, acc: np.ndarray, k: int) -> tuple:
    """``acc``: the accuracies of the block's workers."""
    state, obj = model._e_step(block.votes, ctx, (priors, acc), None)
    return state, obj, _ocds_stats(ctx, state, bool(model.fit_priors), k)


class _OneCoin(_Base):
    stats_fn = staticmethod(_ocds_stats)

    def stats_args(self) -> tuple:
        return Shared(bool(self.model.fit_priors)), Shared(self.k)

    def m_step(self, eng: Engine, state: StateRef, iterating: bool) -> tuple:
        m, k = self.model, eng.enc.n_classes
        stats = self.stats_of(eng, state)
        right = eng.worker_sum([s[0] for s in stats])
        a = float(m.prior)
        den = self.n_per_worker + 2 * a
        acc = np.divide(right + a, den, out=np.full(eng.enc.n_workers, 0.5), where=den > 0)
        if not m.fit_priors:
            seen = self.label_counts > 0
            return seen / max(seen.sum(), 1), np.clip(acc, 0.0, 1.0)
        on_cells = np.sum([s[1][0] for s in stats], axis=0)
        off = sum(s[1][1] for s in stats) - np.sum([s[1][2] for s in stats], axis=0)
        priors = on_cells + stats[0][1][3] * np.maximum(off, 0.0)
        tot = priors.sum()
        priors = priors / tot if tot > 0 else np.full(k, 1.0 / k)
        return priors, np.clip(acc, 0.0, 1.0)

    def e_step(self, eng: Engine, params: Any, iterating: bool) -> tuple[StateRef, float]:
        ref, objs = eng.map_state(_ocds_e, eng.enc.blocks, self.ctxs, Shared(self.model), Shared(params[0]),
                                  eng.slices(params[1]), Shared(eng.enc.n_classes))
        return ref, float(sum(objs))

    def log_prior(self, params: Any) -> float:
        return self.model._log_prior(SimpleNamespace(voted_workers=self.n_per_worker > 0), params)


def _ocds_final(ctx: Any, s: Any, model: Any, draw: Any) -> dict:
    rng = draw_generator(draw)
    m = copy.copy(model)
    if rng is not None:
        m.random_state = rng
    return {"probas": m._probas_of(s, ctx), "labels": m._labels_of(s, ctx), "unvoted_mass": s.unvoted.copy(),
            "n_draws": n_drawn(rng)}


def _fit_one_coin(eng: Engine, model: Any) -> dict:
    ad = _OneCoin(eng, model)
    run = run_em(ad, eng, model)
    priors, acc = run.params
    local = copy.copy(model)
    n, k = eng.enc.n_tasks, eng.enc.n_classes
    local.probas = "full" if model._dense_probas_n(n, k) else "voted"
    random = model.tie == "random"
    seed = seed_of(model.random_state) if random else None
    parts = _final(eng, _ocds_final, [ad.ctxs, run.state.futs, Shared(local)], random, seed)
    return {"parts": parts, "priors_": priors, "accuracies_": acc.copy(), "run": run}


# ---------------------------------------------------------------------- DS (dense; SQUAREM)
class _Product:
    """Stands for ``pair_task`` in DS's M-step: ``pair_task @ T`` is the reduced sum."""

    def __init__(self, S: np.ndarray) -> None:
        self.S = S

    def __matmul__(self, other: Any) -> np.ndarray:
        return self.S


def _ds_pairs(block: Any, ctx: Any) -> np.ndarray:
    k = block.votes.n_classes
    return block.gworker[ctx.pair_worker] * k + ctx.pair_label


def _ds_stats(ctx: Any, T: np.ndarray) -> tuple:
    return ctx.pair_task @ T, np.einsum("ij->j", T)


def _ds_e_stats(block: Any, ctx: Any, model: Any, params: Any, idx: np.ndarray, fast: bool, iterating: bool) -> tuple:
    T, obj = _ds_e(block, ctx, model, params, idx, fast, iterating)
    return T, obj, _ds_stats(ctx, T)


def _ds_e(block: Any, ctx: Any, model: Any, params: Any, idx: np.ndarray, fast: bool, iterating: bool) -> tuple:
    m = copy.copy(model)
    m._uses_float32_exp = lambda c, n_cells: c.iterating and fast  # the decision of the whole data
    m.n_jobs = 1
    ctx.iterating = iterating
    try:
        local = params._replace(log_pi=params.log_pi[idx], pair_sums=None, worker_totals=None)
        return m._e_step(block.votes, ctx, local, None)
    finally:
        ctx.iterating = False


def _sq_norms(s0: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> tuple:
    n, k = s0.shape
    step = max(1, (1 << 16) // max(k, 1))
    nr2 = nv2 = 0.0
    for a in range(0, n, step):
        r = s1[a:a + step] - s0[a:a + step]
        v = s2[a:a + step] - s0[a:a + step]
        v -= 2.0 * r
        nr2 += float(np.einsum("ij,ij->", r, r))
        nv2 += float(np.einsum("ij,ij->", v, v))
    return nr2, nv2


def _sq_point_stats(ctx: Any, s0: np.ndarray, s1: np.ndarray, s2: np.ndarray, alpha: float) -> tuple:
    T = _sq_point(s0, s1, s2, alpha)
    return T, None, _ds_stats(ctx, T)


def _sq_point(s0: np.ndarray, s1: np.ndarray, s2: np.ndarray, alpha: float) -> np.ndarray:
    a2 = alpha * alpha
    r = s1 - s0
    point = s0 * (1.0 - a2)
    point += (-2.0 * alpha * (1.0 + alpha)) * r
    point += a2 * s2
    np.maximum(point, 0.0, out=point)
    tot = np.einsum("ij->i", point) if point.shape[1] else np.zeros(point.shape[0])
    bad = ~(tot > 0)
    tot[bad] = 1.0
    point /= tot[:, None]
    if bad.any():
        point[bad] = s2[bad]
    return point


class _DS(_Base):
    squarem = True
    stats_fn = staticmethod(_ds_stats)

    def __init__(self, eng: Engine, model: Any) -> None:
        super().__init__(eng, model)
        k = eng.enc.n_classes
        keys = eng.gather(eng.map(_ds_pairs, eng.enc.blocks, self.ctxs))
        self.gkeys = _distinct(np.concatenate(keys)) if keys else np.zeros(0, np.int64)
        self.idx = [np.searchsorted(self.gkeys, kb) for kb in keys]
        self.idx_f = self.idx  # each block's pairs among the global ones (inside the tasks: recomputable)
        pw, pl = np.divmod(self.gkeys, k)
        n_pairs = self.gkeys.size
        starts = np.flatnonzero(np.r_[True, pw[1:] != pw[:-1]]) if n_pairs else np.zeros(0, np.int64)
        seg = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, n_pairs]))
        self.fake_votes = SimpleNamespace(n_classes=k, n_workers=eng.enc.n_workers)
        self.fake_ctx = SimpleNamespace(pair_task=None, worker_starts=starts, pair_seg=seg, pair_worker=pw,
                                        pair_label=pl, by_task=SimpleNamespace(keys=np.zeros(1, np.int64)),
                                        iterating=False, fixed=None)
        # the float32 exp of the in-memory E-step is decided on the whole (n_tasks, K) array
        self.fast = bool(model._uses_float32_exp(SimpleNamespace(iterating=True), eng.enc.n_tasks * k))

    def m_step(self, eng: Engine, state: StateRef, iterating: bool) -> Any:
        k = eng.enc.n_classes
        stats = self.stats_of(eng, state)
        S = np.zeros((self.gkeys.size, k))
        for idx, st in zip(self.idx, stats):
            S[idx] += st[0]
        colsum = np.sum([st[1] for st in stats], axis=0)
        self.fake_ctx.pair_task = _Product(S)
        self.fake_ctx.iterating = iterating
        try:
            return self.model._m_step(self.fake_votes, self.fake_ctx, colsum[None, :])
        finally:
            self.fake_ctx.iterating = False
            self.fake_ctx.pair_task = None

    def e_step(self, eng: Engine, params: Any, iterating: bool) -> tuple[StateRef, float]:
        ref, objs = eng.map_state(_ds_e_stats, eng.enc.blocks, self.ctxs, Shared(self.model),
                                  Shared(eng.share(params)), self.idx_f, Shared(self.fast), Shared(iterating))
        return ref, float(sum(objs))

    def log_prior(self, params: Any) -> float:
        return self.model._log_prior(None, params)

    def squarem_point(self, eng: Engine, r0: StateRef, r1: StateRef, r2: StateRef) -> StateRef | None:
        norms = eng.gather(eng.map(_sq_norms, r0.futs, r1.futs, r2.futs))
        nr2 = sum(x[0] for x in norms)
        nv2 = sum(x[1] for x in norms)
        if not (nv2 > 0 and np.isfinite(nr2) and np.isfinite(nv2)):
            return None
        alpha = min(-np.sqrt(nr2 / nv2), -1.0)
        return eng.map_state(_sq_point_stats, self.ctxs, r0.futs, r1.futs, r2.futs, Shared(float(alpha)))[0]


def _ds_final(block: Any, ctx: Any, model: Any, params: Any, idx: np.ndarray, draw: Any) -> dict:
    T, _ = _ds_e(block, ctx, model, params, idx, False, False)
    rng = draw_generator(draw)
    labels = argmax_ties(T, tie=model.tie, random_state=_rng_or(rng, model))
    return {"probas": T, "labels": labels, "n_draws": n_drawn(rng)}


def _fit_ds(eng: Engine, model: Any) -> dict:
    if not isinstance(model.init, str):
        raise InputError("a DS initialised from a worker history has no distributed version",
                         fix="use init='naivesoft' or 'mv' with --engine dask")
    k, w = eng.enc.n_classes, eng.enc.n_workers
    if model._runs_sparse(SimpleNamespace(n_classes=k, n_workers=w, n_tasks=eng.enc.n_tasks)):
        from ._sparse_ds import fit_sparse_ds  # sparse posteriors and confusions (prior=0)

        return fit_sparse_ds(eng, model)
    ad = _DS(eng, model)
    run = run_em(ad, eng, model, accelerate=bool(model.accelerate))
    params = run.params
    if model._uses_float32_exp(SimpleNamespace(iterating=True), params.log_pi.size):
        params = params._replace(log_pi=model._exact_log_pi(ad.fake_votes, ad.fake_ctx, params))
    random = model.tie == "random"
    seed = seed_of(model.random_state) if random else None
    pshare = eng.share(params)
    parts = eng.map(_ds_final, eng.enc.blocks, ad.ctxs, Shared(model), Shared(pshare), ad.idx_f,
                    [(seed, int(eng.enc.bounds[b]) * k) if random else None for b in range(eng.n_blocks)])
    fitted = copy.copy(model)
    conf = fitted._dense_confusions(ad.fake_votes, ad.fake_ctx, params)
    never = np.zeros((w, k), bool)
    if params.pair_sums is None and params.worker_totals.size:
        never[ad.fake_ctx.pair_worker[ad.fake_ctx.worker_starts]] = ~(params.worker_totals > 0)
    return {"parts": parts, "priors_": params.priors, "confusions_": conf, "never_met_": never,
            "sparse_mode_": False, "run": run}


# ---------------------------------------------------------------------- dispatch
def fit_distributed(eng: Engine, model: Any) -> dict:
    """Fit ``model`` (an in-memory strategy object) on the engine's blocks."""
    if isinstance(model, (MajorityVote, NaiveSoft, TwoThird)) and type(model) in (MajorityVote, NaiveSoft, TwoThird):
        return _fit_votes(eng, model)
    if type(model) is WAWA:
        return _fit_wawa(eng, model)
    if type(model) is PlantNet:
        return _fit_plantnet(eng, model)
    if type(model) is OneCoinDS:
        return _fit_one_coin(eng, model)
    if type(model) is DawidSkene:
        return _fit_ds(eng, model)
    if type(model) is GLAD:
        from ._glad import fit_glad

        return fit_glad(eng, model)
    raise InputError(f"{type(model).__name__} has no distributed version",
                     fix=f"use one of {', '.join(SUPPORTED)} with --engine dask, or the in-memory engine")
