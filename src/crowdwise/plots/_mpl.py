"""matplotlib, imported only when a figure is made, always with the Agg canvas.

Figures are built with :class:`matplotlib.figure.Figure` and an Agg canvas attached
directly, never through ``pyplot``: no global figure registry (nothing to close, no
memory kept between figures), no GUI backend, and the user's own pyplot backend is left
alone.
"""

from __future__ import annotations

import io
from typing import Any

from ..errors import InputError

__all__ = ["new_figure", "to_png", "require_matplotlib"]

INSTALL_HINT = 'pip install "crowdwise[report]"'


def require_matplotlib() -> Any:
    """The ``matplotlib`` module, or an :class:`InputError` saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise InputError("figures and the HTML report need matplotlib, which is not installed",
                         fix=f"install it with {INSTALL_HINT}") from None
    return matplotlib


def new_figure(width: float = 6.4, height: float = 4.0, **kwargs: Any) -> Any:
    """A new :class:`matplotlib.figure.Figure` with an Agg canvas (no pyplot)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained", **kwargs)
    FigureCanvasAgg(fig)
    return fig


def to_png(fig: Any, *, dpi: float = 100) -> bytes:
    """The figure rendered as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
