"""Reliability diagram of a classifier (Guo et al. 2017): accuracy against confidence.

Draws :class:`crowdwise.learn.metrics.ReliabilityData` (NumPy; no torch needed).
matplotlib is imported only here, when the figure is made, on an Agg canvas without
``pyplot`` (nothing global is touched).

References
----------
.. [1] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger. "On calibration of modern neural
   networks". ICML 2017.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["reliability_figure", "save_reliability"]


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise InputError("the reliability diagram needs matplotlib, which is not installed",
                         fix='install it with pip install "crowdwise[report]"') from None
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def reliability_figure(data: Any, *, title: str | None = None) -> Any:
    """A reliability diagram: per confidence bin, the accuracy (bars) against the
    diagonal of perfect calibration, the gap shaded, the sample count per bin below.

    Parameters
    ----------
    data : ReliabilityData
        From :func:`crowdwise.learn.metrics.reliability_data`.
    title : str, optional
        Figure title; the ECE is appended.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from crowdwise.learn.metrics import reliability_data
    >>> r = reliability_data([0, 1, 1, 0], [[.9, .1], [.6, .4], [.2, .8], [.3, .7]])
    >>> fig = reliability_figure(r, title="demo")
    >>> [round(float(b.get_height()), 2) for b in fig.axes[0].containers[0]]  # accuracy per non-empty bin
    [0.0, 0.0, 1.0, 1.0]
    """
    edges = np.asarray(data.edges)
    width = np.diff(edges)
    left = edges[:-1]
    has = np.asarray(data.counts) > 0
    fig = _figure(4.8, 5.2)
    ax, axc = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    acc = np.asarray(data.accuracy)[has]
    conf = np.asarray(data.confidence)[has]
    ax.bar(left[has], acc, width=width[has], align="edge", color="#4C72B0", edgecolor="white",
           label="accuracy")
    ax.bar(left[has], conf - acc, bottom=acc, width=width[has], align="edge", color="#DD8452", alpha=0.35,
           edgecolor="#DD8452", hatch="//", label="gap to confidence")
    ax.plot([0, 1], [0, 1], ls="--", color="0.3", lw=1, label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left", fontsize="small", frameon=False)
    head = f"{title}: " if title else ""
    ax.set_title(f"{head}ECE = {data.ece:.4f} ({data.n_bins} bins)", fontsize="medium")
    axc.bar(left, np.asarray(data.counts), width=width, align="edge", color="0.6", edgecolor="white")
    axc.set_xlabel("confidence (top-1 probability)")
    axc.set_ylabel("samples")
    return fig


def save_reliability(path: str | Path, data: Any, *, title: str | None = None, dpi: float = 100) -> Path:
    """Write the reliability diagram as a PNG file (atomically) and return its path."""
    import io as _io

    from ..io import atomic_write

    fig = reliability_figure(data, title=title)
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    path = Path(path)
    with atomic_write(path, "wb") as f:
        f.write(buf.getvalue())
    return path
