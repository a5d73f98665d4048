"""The map-reduce driver: blocks on the cluster, small reductions on the client.

:class:`Engine` runs a function over the blocks (a *map*: one Dask task per block, the
block's data never leaves its worker) and brings back per-block statistics that the client
adds up in block order (a *reduce*: worker and class parameters, a few numbers); the
parameters go back to the workers once per iteration (:meth:`Engine.share`, a broadcast).

:func:`run_em` is the loop of :class:`crowdwise.aggregate.EMStrategy` (``M, E, record``
until the stopping rule or ``max_iter``, SQUAREM jumps when the strategy has them), with
the M-step reduced on the client and the E-step mapped over the blocks. Every per-block
state is a Dask future computed from the block and the broadcast parameters: if a worker
dies, Dask recomputes what it held from the Parquet source and the parameters, and the
iteration continues with the same numbers; the client keeps the parameters of the last
iteration, from which :func:`run_em` restarts an iteration that failed (``retries``).

Tie draws: the in-memory strategies break ties with ``argmax_ties(scores, "random",
seed)``, which draws one uniform per stored score, row after row. The blocks hold the
tasks in code order, so block ``b`` uses the draws from the count of scores of the blocks
before it: its generator is the seed's, advanced by that count (:func:`draw_generator`);
the labels are then those of the in-memory fit.
"""

from __future__ import annotations

import operator
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import InputError

__all__ = ["Engine", "Shared", "EMAdapter", "run_em", "draw_generator", "seed_of"]


@dataclass
class Shared:
    """An argument that every block gets (the same object, or a broadcast future)."""

    value: Any


class _Counting(np.random.Generator):
    """A Generator that counts the uniforms drawn through ``random`` (for the offsets)."""

    def __init__(self) -> None:
        super().__init__(np.random.PCG64(0))
        self.n_drawn = 0

    def random(self, size: Any = None, dtype: Any = np.float64, out: Any = None) -> Any:
        self.n_drawn += 1 if size is None else int(np.prod(size))
        return super().random(size, dtype, out)


def draw_generator(spec: Any) -> np.random.Generator | None:
    """``None``; ``"count"`` (a counting generator); or ``(seed, offset)``: the generator
    of ``seed`` advanced by ``offset`` uniforms (PCG64 draws one 64-bit word per float)."""
    if spec is None:
        return None
    if spec == "count":
        return _Counting()
    seed, offset = spec
    g = np.random.default_rng(seed)
    g.bit_generator.advance(int(offset))
    return g


def n_drawn(rng: Any) -> int:
    return int(getattr(rng, "n_drawn", 0))


def seed_of(random_state: Any) -> int:
    """The integer seed of a strategy's ``random_state`` (None: a fresh one)."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state)
    raise InputError(f"random_state={random_state!r} cannot be shared between processes",
                     fix="give an integer seed (or None) to a distributed fit")


class Engine:
    """The client, the encoded blocks, and the map / reduce primitives."""

    def __init__(self, client: Any, enc: Any, retries: int = 2) -> None:
        self.client = client
        self.enc = enc
        self.retries = retries

    @property
    def n_blocks(self) -> int:
        return len(self.enc.blocks)

    def map(self, fn: Callable, *args: Any) -> list:
        """``fn(arg_0[b], arg_1[b], ...)`` for each block ``b`` (a :class:`Shared` argument is
        the same for every block), as futures."""
        cols = [[a.value] * self.n_blocks if isinstance(a, Shared) else list(a) for a in args]
        with warnings.catch_warnings():  # per-block arrays inside the tasks, on purpose (see slices)
            warnings.filterwarnings("ignore", message=".*large graph.*")
            warnings.filterwarnings("ignore", message=".*Sending large graph.*")
            return self.client.map(fn, *cols, pure=False)

    def part(self, futures: list, index: int) -> list:
        """Item ``index`` of each future's tuple (futures)."""
        return self.client.map(operator.getitem, futures, [index] * len(futures), pure=False)

    def gather(self, futures: list) -> list:
        return self.client.gather(futures)

    def share(self, value: Any) -> Any:
        """``value`` for every block: as it is when small (it travels with the tasks), else a
        broadcast copy on every worker (a future), sent once."""
        if _nbytes(value) <= SMALL_BYTES:
            return value
        return self.client.scatter(value, broadcast=True, hash=False)

    def slices(self, values: np.ndarray) -> list:
        """Per-worker ``values`` cut for each block: the entries of its own workers only,
        so that what travels per iteration is the size of each block's workers, not the
        whole array times the number of worker processes. They travel inside the tasks
        (not scattered): a task whose worker dies can then be run again elsewhere."""
        return [values[gw] for gw in self.enc.gworkers]

    def map_state(self, fn: Callable, *args: Any) -> tuple["StateRef", list]:
        """Map ``fn`` returning ``(state, value, stats)`` per block: the states stay on the
        cluster (futures), the values and statistics come back (one gather)."""
        futs = self.map(fn, *args)
        small = self.gather(self.client.map(_tail, futs, pure=False))
        return StateRef(self.part(futs, 0), [x[1] for x in small]), [x[0] for x in small]

    def worker_sum(self, per_block: list, dtype: Any = float) -> np.ndarray:
        """Per-worker statistics of the blocks (local worker order) added into one global
        array, block after block."""
        out = np.zeros(self.enc.n_workers, dtype=dtype)
        for gw, x in zip(self.enc.gworkers, per_block):
            out[gw] += x
        return out

    def retry(self, step: Callable[[], Any]) -> Any:
        """``step()``, run again (up to ``retries`` times) when it fails for another reason
        than bad input: data scattered to a worker that died is sent again by the new run."""
        for attempt in range(self.retries + 1):
            try:
                return step()
            except InputError:
                raise
            except Exception:  # noqa: BLE001 - a lost worker
                if attempt == self.retries:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def draw_offsets(self, counts: list[int]) -> list[int]:
        return [int(x) for x in np.r_[0, np.cumsum(counts)[:-1]]]


#: below this many bytes a shared value travels inside the tasks instead of being broadcast
SMALL_BYTES = 1 << 18


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (tuple, list)):
        return sum(_nbytes(v) for v in value)
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return sum(_nbytes(v) for v in vars(value).values())
    return 64


def _tail(t: tuple) -> tuple:
    return t[1], t[2]


@dataclass
class StateRef:
    """Per-block states on the cluster (futures), and the statistics of the next M-step
    computed with them (None: computed when needed)."""

    futs: list
    stats: list | None = None


class EMAdapter:
    """The distributed steps of one EM strategy (see :mod:`crowdwise.distributed._strategies`)."""

    squarem = False

    def init(self, eng: Engine) -> list:  # pragma: no cover - abstract
        raise NotImplementedError

    def m_step(self, eng: Engine, state: list, iterating: bool) -> Any:  # pragma: no cover
        raise NotImplementedError

    def e_step(self, eng: Engine, params: Any, iterating: bool) -> tuple[list, float]:  # pragma: no cover
        raise NotImplementedError

    def log_prior(self, params: Any) -> float:
        return 0.0


@dataclass
class EMRun:
    params: Any
    state: list
    history: list
    n_iter: int
    converged: bool


def _converged(hist: list, tol: float, value: float) -> bool:
    """``EMHistory.update``: append, and True when the relative change is at most ``tol``."""
    hist.append(float(value))
    if len(hist) < 2:
        return False
    prev, cur = hist[-2], hist[-1]
    return abs(cur - prev) <= tol * max(1.0, abs(cur))


def run_em(ad: EMAdapter, eng: Engine, model: Any, *, accelerate: bool = False) -> EMRun:
    """The EM loop of the in-memory driver, distributed (see the module docstring)."""
    tol = float(model.tol)
    max_iter = int(model.max_iter)
    hist: list[float] = []
    started = time.perf_counter()
    n_eval = 0

    def report(obj: float | None) -> None:
        if getattr(model, "verbose", False):
            text = "none" if obj is None else f"{obj:.6f}"
            print(f"{type(model).__name__} iteration {n_eval}: objective {text} "
                  f"({time.perf_counter() - started:.2f} s)", file=sys.stderr)
        model._tick(n_eval, max_iter, obj)

    def em_map(s: list) -> tuple[Any, list, float]:
        nonlocal n_eval
        n_eval += 1

        def step() -> tuple[Any, Any, float]:
            p = ad.m_step(eng, s, True)
            new, obj = ad.e_step(eng, p, True)
            return p, new, obj + ad.log_prior(p)

        return eng.retry(step)  # a failed iteration runs again from the client's data

    state = ad.init(eng)
    params = None
    converged = False

    def accept(p: Any, new: list, obj: float, check: bool = True) -> bool:
        nonlocal state, params
        if check:
            stop = _converged(hist, tol, obj)
        else:
            hist.append(float(obj))
            stop = False
        state, params = new, p
        report(obj)
        return stop

    while n_eval < max_iter and not converged:
        s0 = state
        converged = accept(*em_map(s0))
        if converged or not accelerate or n_eval >= max_iter:
            continue
        s1 = state
        converged = accept(*em_map(s1))
        if converged or n_eval >= max_iter:
            continue
        s2, obj2 = state, hist[-1]
        jump = ad.squarem_point(eng, s0, s1, s2)
        if jump is None:
            continue
        p3, s3, obj3 = em_map(jump)
        if obj3 >= obj2:
            converged = accept(p3, s3, obj3, check=False)
        else:
            report(obj2)
    return EMRun(params, state, hist, n_eval, converged)
