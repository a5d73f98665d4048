"""Aggregation on Dask: out of core on one machine, or on a cluster.

>>> from crowdwise.distributed import aggregate          # doctest: +SKIP
>>> result = aggregate("votes_parts/", "DS", client=client)   # doctest: +SKIP
>>> result.labels_, result.probas_                     # doctest: +SKIP

The call mirrors the in-memory one, ``make_strategy("DS").fit(votes)``: the same strategy
names and parameters (``"DS[prior=1]"``, or a strategy object), and a result that reads
like the fitted strategy (``labels_``, ``probas_``, ``valid_``, ``accuracies_``...). The
input is a folder of Parquet parts (one partition per part), or a Dask (or pandas)
DataFrame with the columns ``task, worker, label`` and optional per-vote columns (``author``,
``ai_score`` for Pl@ntNet).

How it works (one module per concern):

- :mod:`._encode`: ids factorised once, on the cluster, into the dense codes of the
  in-memory :class:`~crowdwise.Votes`; votes regrouped by task code range into blocks, so
  that a task's votes live in one block;
- :mod:`._driver`: the map-reduce EM loop (per-block statistics, reduced on the client in
  block order, parameters broadcast back), with the in-memory stopping rule and SQUAREM;
- :mod:`._strategies`: MV, NaiveSoft, TwoThird, WAWA, PlantNet (+ AI variants), OneCoinDS,
  DS (dense confusions) and GLAD, each reproducing the in-memory arithmetic (labels
  identical, probabilities within 1e-9 on the real data sets);
- :mod:`._sparse_ds`: DS's sparse mode (sparse posteriors per block, sparse pair sums
  reduced on the client), for many classes;
- :mod:`._output`: the result, and its Parquet parts keyed by the original task ids;
- :mod:`._cluster`: the client (a scheduler address, or a ``LocalCluster`` of processes);
- :mod:`._command`: ``crowdwise aggregate --engine dask``.

Dask is an optional dependency (``pip install "crowdwise[distributed]"``); ``import
crowdwise`` never imports it. See ``docs/guide/distributed.md``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ..errors import ConvergenceWarning
from ._cluster import client_for, dashboard_link, require_dask, start_client
from ._command import ENGINES, aggregate_command, check_engine_options
from ._output import DistributedResult

__all__ = ["aggregate", "encode_votes", "DistributedResult", "start_client", "dashboard_link", "require_dask",
           "aggregate_command", "check_engine_options", "ENGINES", "SUPPORTED"]

SUPPORTED = ("MV", "NaiveSoft", "TwoThird", "WAWA", "PlantNet", "PlantNet-AIconfident", "PlantNet-AIinvalidating",
             "PlantNet-AIfixed", "PlantNet-AIworker", "OneCoinDS", "DS", "GLAD")


def encode_votes(data: Any, client: Any, *, n_blocks: int | None = None, classes: Any = None) -> Any:
    """Encode ``data`` once on ``client`` (ids factorised, votes regrouped by task), for
    several fits: ``aggregate(encode_votes(data, client), "DS", client=client)``."""
    require_dask()
    from ._encode import encode

    return encode(data, client, n_blocks=n_blocks, classes=classes)


def aggregate(data: Any, strategy: Any = "MV", *, client: Any = None, scheduler: str | None = None,
              n_workers: int | None = None, memory_limit: Any = None, out_dir: str | Path | None = None,
              top_k: int | None = None, n_blocks: int | None = None, classes: Any = None,
              announce: bool = False, **params: Any) -> DistributedResult:
    """Fit ``strategy`` on ``data`` with Dask.

    Parameters
    ----------
    data : str, Path, dask or pandas DataFrame, or the result of :func:`encode_votes`
        A folder of Parquet parts, or a DataFrame with columns ``task, worker, label``.
    strategy : str or Aggregator
        A registry name with options (``"MV"``, ``"DS[prior=1]"``) or a strategy object,
        as for :func:`crowdwise.aggregate.make_strategy`; ``params`` override its
        parameters (``random_state=0``).
    client : distributed.Client, optional
        The cluster to run on; the result's per-task outputs stay there until asked for.
        Without one, a client is started (``scheduler`` address, or a ``LocalCluster`` of
        ``n_workers`` processes with ``memory_limit`` each), and closed at the end: the
        outputs are then written to ``out_dir`` when given, and gathered into the result
        otherwise.
    out_dir : path, optional
        Write the Parquet parts there (:meth:`DistributedResult.to_parquet`).
    n_blocks : int, optional
        Task blocks (default: as many as input partitions).
    classes : list, optional
        Declared classes (a label outside them is an error naming its part and row).

    Returns
    -------
    DistributedResult
    """
    require_dask()
    from ..aggregate import make_strategy
    from ._driver import Engine
    from ._encode import Encoded, encode
    from ._strategies import fit_distributed

    model = make_strategy(strategy, **params)
    if params and not isinstance(strategy, str):
        model.set_params(**{k: v for k, v in params.items() if k in model.get_params()})
    model.validate_params()
    own = client is None
    with client_for(client, scheduler=scheduler, n_workers=n_workers, memory_limit=memory_limit,
                    announce=announce) as c:
        enc = data if isinstance(data, Encoded) else encode(data, c, n_blocks=n_blocks, classes=classes)
        eng = Engine(c, enc)
        fitted = fit_distributed(eng, model)
        result = DistributedResult(model, enc, c, fitted)
        if out_dir is not None:
            result.written_ = result.to_parquet(out_dir, top_k=top_k)
        if own:
            if out_dir is None:
                result.collect()
            else:
                result._parts = None
            result.client = None
    if getattr(result, "converged_", True) is False and float(getattr(model, "tol", 0) or 0) > 0:
        warnings.warn(f"{type(model).__name__} reached max_iter={model.max_iter} before its stopping rule "
                      f"(tol={model.tol!r}) was met: the result may be short of a fixed point. Raise max_iter, "
                      f"or loosen the rule.", ConvergenceWarning, stacklevel=2)
    return result
