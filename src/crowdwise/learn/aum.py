r"""Area under the margin: AUM, AUMC and WAUM, to find mislabelled or ambiguous tasks.

A network is trained on the labels as they are; the margin of an example at epoch
:math:`t` measures how much the network believes its given label, and its average over
the epochs (the area under the margin) is low for examples that fight the others:
mislabelled or ambiguous ones (Pleiss et al. 2020).

Margins (``kind=``), with :math:`z` the logits, :math:`\sigma = \operatorname{softmax}(z)`,
:math:`y` the given label and :math:`\sigma_{[r]}` the :math:`r`-th largest probability:

- ``"psi5"`` (default, the peerannot thesis and peerannot's WAUM):
  :math:`\sigma_y - \sigma_{[k+1]}` with ``topk = k`` (``k = 1``: label minus the
  second largest probability). When :math:`y` is the top class this is the gap to the
  largest other class; otherwise it is :math:`\le 0`. ``topk > 1`` is the top-k variant
  for data sets with many close classes.
- ``"softmax"``: :math:`\sigma_y - \max_{l \ne y} \sigma_l` (probabilities, largest other).
- ``"psi1"``: :math:`z_y - \max_{l \ne y} z_l`, the original logit margin of Pleiss et al.

Scores:

- **AUM** of each task with a given label (aggregated or true):
  :math:`\mathrm{AUM}(x, y) = \frac1T \sum_{t=1}^T M^{(t)}(x, y)`.
- **AUMC**: AUM with the majority-vote labels.
- **WAUM** (Lefort et al. 2024): the AUM of every vote :math:`(x_i, y_i^{(j)})`, weighted
  by the worker's trust on that task
  :math:`s_j(x_i) = \langle \operatorname{diag}(\hat\pi^{(j)}), \sigma(x_i) \rangle`
  (DS confusions by default, any estimator pluggable), averaged per task:

  .. math::

      \mathrm{WAUM}(x_i) = \frac{\sum_{j \in \mathcal{A}(x_i)} s_j(x_i)\,
      \mathrm{AUM}(x_i, y_i^{(j)})}{\sum_{j \in \mathcal{A}(x_i)} s_j(x_i)} .

  Stacked form: one network on all (task, vote) pairs; per-worker form: one network per
  worker on its own votes (weights then use that worker's network).

Pruning removes the tasks whose score is at or below the :math:`\alpha`-quantile, over
all tasks or within each class.

References
----------
G. Pleiss, T. Zhang, E. Elenberg and K. Q. Weinberger, "Identifying mislabeled data
using the area under the margin ranking", NeurIPS 2020.
T. Lefort, B. Charlier, A. Joly and J. Salmon, "Identify ambiguous tasks combining
crowdsourced labels by weighting areas under the margin", TMLR 2024; T. Lefort, PhD
thesis, Université de Montpellier, 2024.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import InputError

__all__ = ["MARGINS", "margins", "MarginRecorder", "waum_weights", "weighted_task_scores",
           "prune_mask", "resolve_confusions", "AUMResult", "WAUMResult", "aum_scores", "aumc_scores",
           "waum_scores"]

MARGINS = ("psi5", "softmax", "psi1")


def _check_kind(kind: str, topk: int, n_classes: int) -> None:
    if kind not in MARGINS:
        raise InputError(f"unknown margin {kind!r}", fix=f"use one of {', '.join(MARGINS)}")
    if int(topk) != topk or topk < 1:
        raise InputError(f"topk={topk!r} must be a positive integer", fix="use topk=1 for the usual margin")
    if topk > 1 and kind != "psi5":
        raise InputError(f"the top-k variant is defined for the psi5 margin, not {kind!r}",
                         fix="use kind='psi5' with topk > 1")
    if topk >= n_classes:
        raise InputError(f"topk={topk} needs more than {topk} classes, there are {n_classes}",
                         fix=f"use topk <= {n_classes - 1}")


def margins(logits: torch.Tensor, labels: torch.Tensor, *, kind: str = "psi5", topk: int = 1) -> torch.Tensor:
    r"""Margin of each example (row of ``logits``) for its given label.

    Parameters
    ----------
    logits : Tensor (n, K)
    labels : Tensor of int (n,)
    kind : {"psi5", "softmax", "psi1"}
        See the module docstring: :math:`\sigma_y - \sigma_{[k+1]}`,
        :math:`\sigma_y - \max_{l\neq y}\sigma_l`, :math:`z_y - \max_{l\neq y} z_l`.
    topk : int, default 1
        ``k`` of the psi5 margin.

    Returns
    -------
    Tensor (n,)

    Examples
    --------
    >>> z = torch.tensor([[2.0, 1.0, 0.0], [2.0, 1.0, 0.0]])
    >>> margins(z, torch.tensor([0, 2]), kind="psi1").tolist()
    [1.0, -2.0]
    """
    logits = logits.detach().float()
    labels = torch.as_tensor(labels, device=logits.device).long()
    _check_kind(kind, topk, logits.shape[1])
    if kind == "psi5":
        p = torch.softmax(logits, dim=1)
        ref = torch.topk(p, topk + 1, dim=1).values[:, topk]
        return p.gather(1, labels[:, None]).squeeze(1) - ref
    v = torch.softmax(logits, dim=1) if kind == "softmax" else logits
    own = v.gather(1, labels[:, None]).squeeze(1)
    other = v.scatter(1, labels[:, None], float("-inf")).max(dim=1).values
    return own - other


class MarginRecorder:
    """Accumulates the margins of every example over the epochs of a training run.

    Call :meth:`update` with the logits of the examples seen (any order, any batches;
    their indices into the data set) and :meth:`end_epoch` after each epoch. Epochs
    before ``burn_in`` are ignored.

    Parameters
    ----------
    labels : array of int (n_examples,)
        The label each example is trained on.
    kind, topk
        As in :func:`margins`.
    n_classes : int

    Attributes
    ----------
    aum : ndarray (n_examples,)
        Mean margin over the recorded epochs (NaN for an example never seen).
    last_probs : ndarray (n_examples, K)
        Softmax of the last logits recorded for each example (for the WAUM weights).

    Examples
    --------
    >>> rec = MarginRecorder([0, 1], n_classes=2, kind="psi1")
    >>> rec.update(torch.tensor([[1.0, 0.0], [0.0, 3.0]]), torch.tensor([0, 1])); rec.end_epoch()
    >>> rec.update(torch.tensor([[3.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1])); rec.end_epoch()
    >>> rec.aum.tolist()
    [2.0, 2.0]
    """

    def __init__(self, labels: Any, *, n_classes: int, kind: str = "psi5", topk: int = 1,
                 burn_in: int = 0) -> None:
        self.labels = torch.as_tensor(np.asarray(labels, dtype=np.int64))
        _check_kind(kind, topk, n_classes)
        self.kind, self.topk, self.n_classes, self.burn_in = kind, int(topk), int(n_classes), int(burn_in)
        n = self.labels.numel()
        self._sum = np.zeros(n)
        self._count = np.zeros(n, dtype=np.int64)
        self.last_probs = np.full((n, self.n_classes), np.nan)
        self.epoch = 0

    def update(self, logits: torch.Tensor, index: Any) -> None:
        """Record the logits of the examples ``index`` (one row each)."""
        idx = torch.as_tensor(index).long().cpu()
        logits = logits.detach().float().cpu()
        self.last_probs[idx.numpy()] = torch.softmax(logits, dim=1).numpy()
        if self.epoch < self.burn_in:
            return
        m = margins(logits, self.labels[idx], kind=self.kind, topk=self.topk).numpy()
        np.add.at(self._sum, idx.numpy(), m)
        np.add.at(self._count, idx.numpy(), 1)

    def end_epoch(self) -> None:
        self.epoch += 1

    @property
    def aum(self) -> np.ndarray:
        out = np.full(self._sum.shape, np.nan)
        seen = self._count > 0
        out[seen] = self._sum[seen] / self._count[seen]
        return out


def resolve_confusions(votes: Any, confusions: Any = None, *, random_state: int = 0) -> np.ndarray:
    """Confusions ``(n_workers, K, K)`` for the WAUM weights.

    ``confusions`` is an array (used as given, rows = true class), a strategy spec whose
    fit has ``confusions_`` (``"DS"``, ``"DS[prior=1]"``, ``"FastDS"``, ``"DSWC[L=3]"``...),
    a fitted estimator with ``confusions_``, or None (Dawid-Skene).
    """
    from ..aggregate import make_strategy

    if confusions is None:
        confusions = "DS"
    if isinstance(confusions, str) or hasattr(confusions, "fit"):
        model = make_strategy(confusions, random_state=random_state) if isinstance(confusions, str) else confusions
        if not hasattr(model, "confusions_"):
            model = model.fit(votes)
        conf = getattr(model, "confusions_", None)
        if conf is None and hasattr(model, "memberships_") and hasattr(model, "cluster_confusions_"):
            # DSWC: each worker's expected confusion under its cluster memberships
            conf = np.einsum("jl,lkm->jkm", model.memberships_, model.cluster_confusions_)
        if conf is None:
            raise InputError(f"strategy {confusions!r} learns no confusion matrices",
                             fix="use DS, FastDS, HybridDS, DSWC or pass an array")
    else:
        conf = confusions
    from ..identify.workers import check_confusions

    return check_confusions(votes, conf)


def waum_weights(probs: np.ndarray, confusions: np.ndarray, worker: np.ndarray) -> np.ndarray:
    r"""Trust of each vote, :math:`s_v = \sum_k \sigma_{v,k}\, \hat\pi^{(j_v)}_{kk}`.

    Parameters
    ----------
    probs : ndarray (n_votes, K)
        Network probabilities on the vote's task (the network that saw that vote).
    confusions : ndarray (n_workers, K, K)
    worker : ndarray of int (n_votes,)

    Examples
    --------
    >>> pi = np.array([[[0.9, 0.1], [0.3, 0.7]]])
    >>> waum_weights(np.array([[0.5, 0.5]]), pi, np.array([0])).tolist()
    [0.8]
    """
    diag = np.diagonal(np.asarray(confusions, dtype=float), axis1=1, axis2=2)  # (W, K)
    return np.einsum("vk,vk->v", np.asarray(probs, dtype=float), diag[np.asarray(worker)])


def weighted_task_scores(values: np.ndarray, weights: np.ndarray, task: np.ndarray, n_tasks: int) -> np.ndarray:
    r"""Per-task weighted mean :math:`\sum_v s_v a_v / \sum_v s_v` of per-vote values.

    NaN for a task without vote (or whose weights are all 0).

    Examples
    --------
    >>> weighted_task_scores(np.array([1.0, 0.0, 0.5]), np.array([3.0, 1.0, 2.0]),
    ...                      np.array([0, 0, 2]), 3).tolist()
    [0.75, nan, 0.5]
    """
    num = np.bincount(task, weights=np.asarray(weights) * np.asarray(values), minlength=n_tasks)
    den = np.bincount(task, weights=np.asarray(weights, dtype=float), minlength=n_tasks)
    out = np.full(n_tasks, np.nan)
    ok = den > 0
    out[ok] = num[ok] / den[ok]
    return out


def prune_mask(scores: Any, alpha: float, *, classes: Any = None) -> np.ndarray:
    r"""Tasks to keep: those whose score is above the :math:`\alpha`-quantile.

    A task is removed when ``score <= np.quantile(scores, alpha)`` (linear interpolation,
    NaN scores ignored and kept), over all tasks, or within each class when ``classes``
    (one class per task) is given. ``alpha = 0`` removes the minimum (ties included), as
    peerannot's rule does.

    Examples
    --------
    >>> prune_mask([0.3, -0.2, 0.9, 0.1, 0.5], 0.2).tolist()
    [True, False, True, True, True]
    >>> prune_mask([0.3, -0.2, 0.9, 0.1], 0.4, classes=[0, 0, 1, 1]).tolist()
    [True, False, True, False]
    """
    s = np.asarray(scores, dtype=float)
    if not 0.0 <= alpha < 1.0:
        raise InputError(f"alpha={alpha} is outside [0, 1)", fix="give the share of tasks to remove, e.g. 0.01")
    keep = np.ones(s.shape, dtype=bool)
    groups = [np.arange(s.size)] if classes is None else \
        [np.flatnonzero(np.asarray(classes) == c) for c in np.unique(np.asarray(classes))]
    for g in groups:
        g = g[~np.isnan(s[g])]
        if g.size == 0:
            continue
        q = np.quantile(s[g], alpha)
        keep[g[s[g] <= q]] = False
    return keep


# --------------------------------------------------------------------------- training
def _margin_callback(recorder: MarginRecorder) -> Any:
    from .train import Callback

    class _Record(Callback):
        def on_batch_end(self, state: Any, batch: Any) -> None:
            recorder.update(batch.logits, batch.index)

        def on_epoch_end(self, state: Any) -> None:
            recorder.end_epoch()

    return _Record()


def _rows_split(split: Any, rows: np.ndarray) -> Any:
    """A training split whose example ``e`` is row ``rows[e]`` of ``split`` (repeats allowed)."""
    from .data import Split

    return Split("train", np.arange(rows.size), split.truth[rows],
                 features=None if split.features is None else split.features[rows],
                 paths=None if split.paths is None else tuple(split.paths[r] for r in rows))


def _train_recording(split: Any, labels: np.ndarray, n_classes: int, *, model: str, model_options: dict | None,
                     config: Any, kind: str, topk: int, burn_in: int, img_size: int,
                     progress: bool | str = False) -> MarginRecorder:
    from .data import make_dataset
    from .models import build_model
    from .train import TrainConfig, fit

    cfg = config or TrainConfig()
    if not 0 <= int(burn_in) < cfg.epochs:  # no epoch left to average: every score would be NaN
        raise InputError(f"burn_in={burn_in} leaves no epoch of the {cfg.epochs} to average the margins over",
                         fix=f"use a burn-in between 0 and {cfg.epochs - 1}, or train for more epochs")
    opts = dict(model_options or {})
    opts.setdefault("seed", cfg.seed)
    if split.features is not None:
        opts.setdefault("n_features", int(split.features.shape[1]))
    rec = MarginRecorder(np.where(labels < 0, 0, labels), n_classes=n_classes, kind=kind, topk=topk,
                         burn_in=burn_in)
    net = build_model(model, n_classes, **opts)
    fit(net, make_dataset(split, labels, img_size=img_size), config=cfg, callbacks=[_margin_callback(rec)],
        progress=progress)
    return rec


@dataclass
class AUMResult:
    """Scores of :func:`aum_scores` / :func:`aumc_scores`.

    Attributes
    ----------
    scores : ndarray (n_tasks,)
        AUM of each task with its label (NaN for a task without label).
    labels : ndarray of int (n_tasks,)
        The labels the network was trained on (-1: none).
    kind, topk : the margin used
    """

    scores: np.ndarray
    labels: np.ndarray
    kind: str
    topk: int


def aum_scores(data: Any, labels: Any, *, model: str = "mlp", model_options: dict | None = None, config: Any = None,
               kind: str = "psi5", topk: int = 1, burn_in: int = 0, img_size: int = 224,
               progress: bool | str = False) -> AUMResult:
    r"""AUM of each training task with its given hard label (Pleiss et al. 2020).

    One network is trained on ``(x_i, y_i)`` with cross-entropy for ``config.epochs``
    epochs; the margin of every example is recorded at each step of the same training
    loop and averaged: :math:`\mathrm{AUM}(x_i, y_i) = \frac1T\sum_t M^{(t)}(x_i, y_i)`.

    Parameters
    ----------
    data : TaskData
        ``data.train`` rows are the tasks.
    labels : array of int (n_tasks,)
        Hard labels (class indices, -1 = left out).
    model, model_options, config, img_size
        As :func:`crowdwise.learn.crowd_layers.fit_crowd_layer` (no validation split is used).
    kind, topk, burn_in
        The margin (:func:`margins`) and the first epochs left out of the average.
    """
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.shape[0] != len(data.train):
        raise InputError(f"labels have shape {lab.shape}, expected ({len(data.train)},): one hard label per task",
                         fix="give class indices (-1 for none), e.g. the argmax of a soft labels file")
    lab = lab.astype(np.int64)
    if lab.size and lab.max() >= data.n_classes:
        raise InputError(f"label {int(lab.max())} is not a class index (K = {data.n_classes})")
    rec = _train_recording(data.train, lab, data.n_classes, model=model, model_options=model_options,
                           config=config, kind=kind, topk=topk, burn_in=burn_in, img_size=img_size,
                           progress=progress)
    scores = rec.aum
    scores[lab < 0] = np.nan
    return AUMResult(scores, lab, kind, int(topk))


def aumc_scores(votes: Any, data: Any, *, seed: int = 0, **kwargs: Any) -> AUMResult:
    """AUMC: :func:`aum_scores` with the majority-vote labels (ties broken with ``seed``)."""
    from ..aggregate import MajorityVote

    labels = MajorityVote(random_state=seed).fit(votes).labels_.copy()
    labels[votes.votes_per_task() == 0] = -1
    return aum_scores(data, labels, **kwargs)


@dataclass
class WAUMResult:
    """Scores of :func:`waum_scores`.

    Attributes
    ----------
    scores : ndarray (n_tasks,)
        WAUM of each task (NaN for a task without vote).
    vote_aum : ndarray (n_votes,)
        AUM of each vote :math:`(x_i, y_i^{(j)})`, in the order of ``votes``.
    vote_weights : ndarray (n_votes,)
        :math:`s_j(x_i)` of each vote.
    confusions : ndarray (n_workers, K, K)
    form : {"stacked", "per-worker"}
    """

    scores: np.ndarray
    vote_aum: np.ndarray
    vote_weights: np.ndarray
    confusions: np.ndarray
    form: str


def waum_scores(votes: Any, data: Any, *, confusions: Any = None, form: str = "stacked", model: str = "mlp",
                model_options: dict | None = None, config: Any = None, kind: str = "psi5", topk: int = 1,
                burn_in: int = 0, img_size: int = 224, progress: bool | str = False) -> WAUMResult:
    r"""WAUM of each task (Lefort et al. 2024).

    .. math::

        \mathrm{WAUM}(x_i) = \frac{\sum_{j} s_j(x_i)\, \mathrm{AUM}(x_i, y_i^{(j)})}{\sum_j s_j(x_i)},
        \qquad s_j(x_i) = \langle \operatorname{diag}(\hat\pi^{(j)}), \sigma(x_i) \rangle ,

    the sums running over the workers who voted on task :math:`i`, :math:`\sigma(x_i)`
    the softmax of the network that saw the vote, at the last epoch.

    Parameters
    ----------
    votes : Votes
    data : TaskData
        ``data.train`` rows aligned with ``votes.task_ids``.
    confusions : None, str, estimator or ndarray (n_workers, K, K)
        Where :math:`\hat\pi` comes from (:func:`resolve_confusions`): Dawid-Skene by
        default, a strategy spec (``"FastDS"``, ``"DSWC[L=3]"``...) or given matrices.
    form : {"stacked", "per-worker"}
        ``stacked``: one network trained on every (task, vote) pair, the task's features
        repeated once per vote; ``per-worker``: one network per worker (same initial
        weights) trained on that worker's votes alone.
    model, model_options, config, kind, topk, burn_in, img_size
        As :func:`aum_scores`.
    """
    if form not in ("stacked", "per-worker"):
        raise InputError(f"unknown WAUM form {form!r}", fix="use 'stacked' or 'per-worker'")
    if len(data.train) != votes.n_tasks:
        raise InputError(f"{len(data.train)} training rows for {votes.n_tasks} tasks of the votes",
                         fix="load the items with the votes (load_task_data(..., votes=votes))")
    seed = getattr(config, "seed", 0)
    conf = resolve_confusions(votes, confusions, random_state=seed)
    k = votes.n_classes
    common = dict(model=model, model_options=model_options, config=config, kind=kind, topk=topk,
                  burn_in=burn_in, img_size=img_size)
    vote_aum = np.full(votes.n_votes, np.nan)
    probs = np.full((votes.n_votes, k), np.nan)
    if form == "stacked":
        rec = _train_recording(_rows_split(data.train, votes.task), votes.label, k, progress=progress, **common)
        vote_aum[:], probs[:] = rec.aum, rec.last_probs
    else:
        order = np.argsort(votes.worker, kind="stable")
        bounds = np.searchsorted(votes.worker[order], np.arange(votes.n_workers + 1))
        for j in range(votes.n_workers):
            sel = order[bounds[j]:bounds[j + 1]]
            if sel.size == 0:
                continue
            rec = _train_recording(_rows_split(data.train, votes.task[sel]), votes.label[sel], k, **common)
            vote_aum[sel], probs[sel] = rec.aum, rec.last_probs
    weights = waum_weights(probs, conf, votes.worker)
    scores = weighted_task_scores(vote_aum, weights, votes.task, votes.n_tasks)
    return WAUMResult(scores, vote_aum, weights, conf, form)
