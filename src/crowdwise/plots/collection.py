"""The budget curves of a label-collection simulation
(:func:`crowdwise.simulate.collection.simulate_collection`): accuracy against the votes
spent, one panel per aggregation strategy, one line per policy (mean over seeds, with a
band of ± one standard deviation when there are several seeds)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ._mpl import new_figure

__all__ = ["collection_figure"]

#: columns the figure reads
_NEEDED = ("policy", "strategy", "seed", "votes_per_task", "accuracy")


def collection_figure(table: Any, *, title: str | None = None) -> Any:
    """Accuracy against the mean votes per task, per strategy (panels) and policy (lines).

    Parameters
    ----------
    table : pandas.DataFrame
        The result of :func:`~crowdwise.simulate.collection.simulate_collection`.
    title : str, optional
        Figure title (e.g. the data set's name).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from crowdwise.simulate import independent_confusion
    >>> from crowdwise.simulate.collection import simulate_collection
    >>> crowd = independent_confusion(60, 8, 2, seed=0)
    >>> t = simulate_collection(crowd.votes, crowd.truth, policies=["random", "uncertainty"],
    ...                         strategies=["MV", "DS"], budget=60, batch=30)
    >>> fig = collection_figure(t)
    >>> [ax.get_title() for ax in fig.axes], len(fig.axes[0].get_lines())
    (['MV', 'DS'], 2)
    """
    missing = [c for c in _NEEDED if c not in getattr(table, "columns", ())]
    if missing:
        raise InputError(f"the table lacks the column(s) {', '.join(missing)}",
                         fix="pass the DataFrame simulate_collection returns")
    if not len(table):
        raise InputError("the table is empty", fix="run simulate_collection first")
    strategies = list(dict.fromkeys(table["strategy"]))
    policies = list(dict.fromkeys(table["policy"]))
    n = len(strategies)
    fig = new_figure(4.2 * n, 3.6)
    axes = fig.subplots(1, n, sharey=True, squeeze=False)[0]
    for ax, strategy in zip(axes, strategies):
        sub = table[table["strategy"] == strategy]
        for policy in policies:
            part = sub[sub["policy"] == policy]
            if not len(part):
                continue
            g = part.groupby("round", sort=True)
            x = g["votes_per_task"].mean().to_numpy()
            y = g["accuracy"].mean().to_numpy()
            sd = g["accuracy"].std(ddof=1).to_numpy() if part["seed"].nunique() > 1 else None
            (line,) = ax.plot(x, y, marker="o", markersize=3, label=policy)
            if sd is not None:
                ok = np.isfinite(sd)
                ax.fill_between(x[ok], (y - sd)[ok], (y + sd)[ok], color=line.get_color(), alpha=0.15, linewidth=0)
        ax.set_title(str(strategy))
        ax.set_xlabel("votes per task (mean)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[-1].legend(title="policy", fontsize="small")
    if title:
        fig.suptitle(title)
    return fig
