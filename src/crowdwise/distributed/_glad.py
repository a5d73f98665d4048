"""GLAD on Dask: the abilities (one per worker) by Newton steps reduced on the client, the
task difficulties (one per task) by Newton steps inside their block.

The in-memory M-step alternates ``m_step_iter`` rounds of a Newton step on the abilities
``alpha`` and one on ``b = log beta``, each halved per coordinate until it gains enough
(an Armijo test). The b step touches the votes of one task only, so it runs in the task's
block with the in-memory kernel. The alpha step needs, per worker, sums over all of its
votes (objective term, gradient, Fisher curvature, then the objective at each trial
point); the Armijo test compares two such sums that can agree to the last bit, so they
must be the in-memory sums *exactly*, added in the same order. The task blocks compute
the per-vote terms, and the votes go, once cut by worker range, to worker blocks that add
them up in input order (``np.bincount`` over the votes sorted by input position): the
sums, hence every accepted step, are those of the in-memory fit. (Sums over blocks would
differ in the last bits, flip an Armijo test here and there, and leave differences of
1e-8 in the posteriors.) The per-vote state ``(s, exp(-|s|), softplus(s))`` is recomputed
from ``alpha`` and ``b`` with the products of the in-memory steps, hence the same numbers.
"""

from __future__ import annotations

import operator
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..aggregate import argmax_ties
from ..aggregate import glad as glad_mod
from ._driver import EMAdapter, Engine, Shared, StateRef, draw_generator, n_drawn, run_em, seed_of

__all__ = ["fit_glad"]


def _vote_state(block: Any, alpha: np.ndarray, b: np.ndarray) -> tuple:
    """``alpha``: the abilities of the block's workers; ``b``: its tasks'."""
    v = block.votes
    return glad_mod._vote_state(alpha[v.worker] * np.exp(b)[v.task])


def _set_priors(state: Any, priors: np.ndarray) -> Any:
    state.priors = priors
    return state


def _class_totals(ctx: Any, s: Any) -> np.ndarray:
    return ctx.class_totals(s.post, s.log_z, s.priors)


def _seen(block: Any) -> np.ndarray:
    return np.bincount(block.votes.label, minlength=block.votes.n_classes)


def _mstart(block: Any, ctx: Any, s: Any) -> tuple:
    """The M-step's per-block data: b, and the posterior of each vote's label."""
    return s.b, s.post[ctx.of_vote]


def _alpha_votes(block: Any, mb: tuple, alpha: np.ndarray, routes: list) -> list:
    """Per vote of the block, the terms the alpha step adds up per worker (objective,
    gradient, Fisher curvature; the arithmetic of ``_block_terms``), cut by worker block."""
    b, q = mb
    v = block.votes
    state = _vote_state(block, alpha, b)
    s, _, sp = state
    r, var = glad_mod._sigmoids(state)
    np.subtract(q, r, out=r)
    ds = np.exp(b)[v.task]
    f = q * s
    f -= sp
    g = np.multiply(r, ds)
    var *= ds
    var *= ds
    return [(f[i], g[i], var[i]) for i in routes]


def _alpha_trial_votes(block: Any, mb: tuple, cand: np.ndarray, routes: list) -> list:
    """Per vote, the objective term at the trial abilities ``cand``, cut by worker block."""
    b, q = mb
    v = block.votes
    s_c = cand[v.worker]
    s_c *= np.exp(b)[v.task]
    st = glad_mod._vote_state(s_c)
    w = q * s_c
    w -= st[2]
    return [(w[i],) for i in routes]


def _routes(block: Any, wbounds: np.ndarray) -> tuple:
    """The block's votes cut by worker range: their indices, and what the worker block
    needs to put them in input order (their input positions and worker codes)."""
    gw = block.gworker[block.votes.worker]
    dest = np.searchsorted(wbounds, gw, side="right") - 1
    order = np.argsort(dest, kind="stable")
    cuts = np.searchsorted(dest[order], np.arange(wbounds.size))
    routes = [order[cuts[i]:cuts[i + 1]] for i in range(wbounds.size - 1)]
    vpos = block.vpos if block.vpos is not None else np.arange(gw.size)
    return routes, [(vpos[i], gw[i]) for i in routes]


def _worker_block(w0: int, w1: int, *metas: tuple) -> tuple:
    """A worker range's votes, from every task block, in input order."""
    vpos = np.concatenate([m[0] for m in metas])
    gw = np.concatenate([m[1] for m in metas])
    order = np.argsort(vpos, kind="stable")
    return order, gw[order] - w0, w1 - w0


def _worker_sums(wb: tuple, *pieces: tuple) -> list:
    """Per-worker sums of per-vote values, added in input order: the sums of the
    in-memory ``np.bincount`` over all the votes, to the last bit."""
    order, widx, n = wb
    out = []
    for j in range(len(pieces[0]) if pieces else 0):
        vals = np.concatenate([p[j] for p in pieces])[order]
        out.append(np.bincount(widx, weights=vals, minlength=n))
    return out


def _b_step(block: Any, mb: tuple, alpha: np.ndarray, lam: float, mean: float) -> tuple:
    b, q = mb
    v = block.votes
    st = _vote_state(block, alpha, b)
    new_b, _, db = glad_mod._newton_block(b, v.task, alpha[v.worker], q, lam, mean, st,
                                          log_scale=True, max_step=glad_mod._MAX_STEP_B)
    return (new_b, q), db


def _e_step(block: Any, ctx: Any, model: Any, mb: tuple, alpha: np.ndarray, priors: np.ndarray) -> tuple:
    b = mb[0]
    params = glad_mod._GladParams(priors, alpha, b, _vote_state(block, alpha, b))
    return model._e_step(block.votes, ctx, params, None)


def _b_sq_obj(out: tuple, mean: float) -> tuple:
    return float(np.sum((out[0].b - mean) ** 2)), out[1]


class _Glad(EMAdapter):
    def __init__(self, eng: Engine, model: Any) -> None:
        self.model = model
        k = eng.enc.n_classes
        from ._strategies import _context

        self.ctxs = eng.map(_context, eng.enc.blocks, Shared(model))
        seen = np.sum(eng.gather(eng.map(_seen, eng.enc.blocks)), axis=0)
        cp = model.class_priors
        if isinstance(cp, str) and cp == "learn":
            self.fixed = None
        else:
            # _fixed_priors reads the labels only to find the classes seen
            self.fixed = model._fixed_priors(SimpleNamespace(n_classes=k, label=np.flatnonzero(seen > 0)))
        self.alpha = np.full(eng.enc.n_workers, glad_mod.ALPHA_MEAN)
        self.b_sq: float = 0.0
        # the votes again, by worker range, for sums in the in-memory order
        W = eng.enc.n_workers
        nwb = max(1, min(eng.n_blocks, W))
        self.wbounds = np.unique(np.linspace(0, W, nwb + 1).round().astype(np.int64))
        out = eng.map(_routes, eng.enc.blocks, Shared(self.wbounds))
        self.routes = eng.part(out, 0)
        metas = eng.part(out, 1)
        self.wblocks = []
        for i in range(self.wbounds.size - 1):
            parts_i = [eng.client.submit(operator.getitem, m, i, pure=False) for m in metas]
            self.wblocks.append(eng.client.submit(_worker_block, int(self.wbounds[i]), int(self.wbounds[i + 1]),
                                                  *parts_i, pure=False))

    def worker_sums(self, eng: Engine, per_block: list) -> list:
        """Per-worker sums (whole arrays) of per-vote values cut by worker block."""
        res = []
        for i, wb in enumerate(self.wblocks):
            parts_i = [eng.client.submit(operator.getitem, p, i, pure=False) for p in per_block]
            res.append(eng.client.submit(_worker_sums, wb, *parts_i, pure=False))
        got = eng.gather(res)
        return [np.concatenate([g[j] for g in got]) for j in range(len(got[0]))]

    def init(self, eng: Engine) -> StateRef:
        from ._strategies import _init_state

        states = eng.map(_init_state, eng.enc.blocks, self.ctxs, Shared(self.model))
        if self.fixed is not None:
            priors = self.fixed
        else:
            tot = np.sum(eng.gather(eng.map(_post_colsum, self.ctxs, states)), axis=0)
            k = eng.enc.n_classes
            priors = tot / tot.sum() if tot.sum() > 0 else np.full(k, 1.0 / k)
        return StateRef(eng.map(_set_priors, states, Shared(priors)))

    def m_step(self, eng: Engine, ref: StateRef, iterating: bool) -> Any:
        m = self.model
        state = ref.futs
        if self.fixed is not None:
            priors = self.fixed
        else:
            priors = np.sum(eng.gather(eng.map(_class_totals, self.ctxs, state)), axis=0)
            priors = priors / priors.sum()
        mb = eng.map(_mstart, eng.enc.blocks, self.ctxs, state)
        alpha = self.alpha
        lam_a, lam_b, mean_b = float(m.alpha_prior), float(m.beta_prior), float(m.beta_mean)
        W = eng.enc.n_workers
        for _ in range(int(m.m_step_iter)):
            # the alpha block, reduced over the blocks
            sums = self.worker_sums(eng, eng.map(_alpha_votes, eng.enc.blocks, mb, eng.slices(alpha), self.routes))
            dev = alpha - glad_mod.ALPHA_MEAN
            f0 = sums[0] - 0.5 * lam_a * dev * dev
            grad = sums[1] - lam_a * dev
            fisher = sums[2] + lam_a
            curv = fisher
            h = np.maximum(curv, 0.5 * fisher)
            step = np.divide(grad, h, out=np.zeros_like(grad), where=h > 0)
            np.clip(step, -glad_mod._MAX_STEP_ALPHA, glad_mod._MAX_STEP_ALPHA, out=step)
            active = step != 0
            new = alpha
            if active.any():
                gain = grad * step
                new = alpha.copy()
                t = 1.0
                for _h in range(glad_mod._HALVINGS):
                    cand = alpha + t * step
                    f1 = self.worker_sums(eng, eng.map(_alpha_trial_votes, eng.enc.blocks, mb, eng.slices(cand),
                                                       self.routes))[0]
                    d = cand - glad_mod.ALPHA_MEAN
                    f1 = f1 - 0.5 * lam_a * d * d
                    ok = active & (f1 >= f0 + glad_mod._ARMIJO * t * gain)
                    new[ok] = cand[ok]
                    active &= ~ok
                    if not active.any():
                        break
                    t *= 0.5
            da = float(np.max(np.abs(new - alpha))) if W else 0.0
            alpha = new
            # the b block, in each block
            out = eng.map(_b_step, eng.enc.blocks, mb, eng.slices(alpha), Shared(lam_b), Shared(mean_b))
            mb = eng.part(out, 0)
            db = max(eng.gather(eng.part(out, 1)))
            if max(da, db) <= glad_mod._M_STEP_TOL:
                break
        return priors, alpha, mb

    def e_step(self, eng: Engine, params: Any, iterating: bool) -> tuple[list, float]:
        priors, alpha, mb = params
        self.alpha = alpha
        out = eng.map(_e_step, eng.enc.blocks, self.ctxs, Shared(self.model), mb, eng.slices(alpha),
                      Shared(priors))
        state = eng.part(out, 0)
        small = eng.gather(eng.map(_b_sq_obj, out, Shared(float(self.model.beta_mean))))
        self.b_sq = float(sum(x[0] for x in small))
        return StateRef(state), float(sum(x[1] for x in small))

    def log_prior(self, params: Any) -> float:
        m = self.model
        alpha = params[1]
        return float(-0.5 * m.alpha_prior * np.sum((alpha - glad_mod.ALPHA_MEAN) ** 2) - 0.5 * m.beta_prior * self.b_sq)


def _post_colsum(ctx: Any, s: Any) -> np.ndarray:
    return np.bincount(ctx.label, weights=s.post, minlength=ctx.n_classes)


def _final(ctx: Any, s: Any, model: Any, draw: Any) -> dict:
    P = model._probas_of(s, ctx)
    rng = draw_generator(draw)
    labels = argmax_ties(P, tie=model.tie, random_state=rng if rng is not None else model.random_state)
    return {"probas": P, "labels": labels, "difficulties": np.exp(s.b), "n_draws": n_drawn(rng)}


def fit_glad(eng: Engine, model: Any) -> dict:
    """GLAD on the engine's blocks (see the module docstring)."""
    glad_mod._check_dense_budget(eng.enc.n_tasks, eng.enc.n_classes, model.memory_budget)
    ad = _Glad(eng, model)
    run = run_em(ad, eng, model)
    k = eng.enc.n_classes
    random = model.tie == "random"
    seed = seed_of(model.random_state) if random else None
    parts = eng.map(_final, ad.ctxs, run.state.futs, Shared(model),
                    [(seed, int(eng.enc.bounds[b]) * k) if random else None for b in range(eng.n_blocks)])
    priors = run.params[0]
    difficulties = np.concatenate(eng.gather(eng.map(_get_difficulties, parts)))
    return {"parts": parts, "priors_": priors, "abilities_": run.params[1], "difficulties_": difficulties, "run": run}


def _get_difficulties(out: dict) -> np.ndarray:
    return out["difficulties"]
