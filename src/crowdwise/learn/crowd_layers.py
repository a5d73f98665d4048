r"""Crowd layers: learn a classifier straight from the votes (end-to-end, no aggregation).

A crowd layer sits on top of a classifier :math:`f` (logits :math:`z(x)`, probabilities
:math:`p(x) = \operatorname{softmax} z(x)`) and models how each worker :math:`j` turns
the true class into a vote. Training maximises the likelihood of the observed votes;
after training the classifier alone predicts the true class, and the layer holds the
learnt worker confusions.

Every layer here works on the votes of a mini-batch as three flat tensors (one entry
per vote): ``row`` (the vote's task as a row of the batch), ``worker`` and ``label``.
Nothing loops over workers: the per-vote confusions are gathered with one indexing
operation, so the cost is O(votes x K^2) at most per batch.

Conventions: ``confusions()`` returns ``(n_workers, K, K)`` arrays with
``[j, k, l] = P(worker j answers l | true class k)`` (rows are true classes, as
:class:`~crowdwise.aggregate.DawidSkene` ``confusions_``).

Classes
-------
CrowdLayer    matrix weights per worker on the probabilities (Rodrigues & Pereira 2018)
CoNAL         global + per-worker confusions mixed by an instance weight (Chu et al. 2021)
GeoCrowdNet   coupled cross-entropy with a log-det regulariser, forms F and W
              (Ibrahim, Nguyen & Fu 2023); ``lam=0`` is plain coupled cross-entropy.
CrowdModel    classifier + crowd layer in one ``nn.Module``.
VoteIndex     votes grouped by task, gathered per batch in one vectorised step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError

__all__ = ["VoteIndex", "CrowdHead", "CrowdLayer", "CoNAL", "GeoCrowdNet", "CoupledCE",
           "CrowdModel", "make_crowd_head", "CROWD_STRATEGIES", "parse_crowd_spec", "VoteLoss", "CrowdFit",
           "fit_crowd_layer"]


# --------------------------------------------------------------------------- votes
class VoteIndex:
    """The votes of a data set grouped by task, to gather those of a mini-batch.

    Parameters
    ----------
    task, worker, label : array-like of int, shape (n_votes,)
        One entry per vote (``Votes.task``, ``Votes.worker``, ``Votes.label``).
    n_tasks : int
        Number of tasks (rows of the feature matrix).

    Examples
    --------
    >>> idx = VoteIndex([0, 2, 0, 1], [5, 1, 3, 1], [1, 0, 1, 2], n_tasks=3)
    >>> row, worker, label = idx.gather(torch.tensor([2, 0]))
    >>> row.tolist(), worker.tolist(), label.tolist()
    ([0, 1, 1], [1, 5, 3], [0, 1, 1])
    """

    def __init__(self, task: Any, worker: Any, label: Any, n_tasks: int) -> None:
        task = np.asarray(task, dtype=np.int64)
        order = np.argsort(task, kind="stable")
        self.n_tasks = int(n_tasks)
        if task.size and (task.min() < 0 or task.max() >= self.n_tasks):
            raise InputError(f"a vote's task index is outside 0..{self.n_tasks - 1}",
                             fix="the feature matrix must have one row per task of the votes")
        self.worker = torch.as_tensor(np.asarray(worker, dtype=np.int64)[order])
        self.label = torch.as_tensor(np.asarray(label, dtype=np.int64)[order])
        self.vote = torch.as_tensor(order)  # original vote position of each sorted vote
        counts = np.bincount(task, minlength=self.n_tasks)
        indptr = np.zeros(self.n_tasks + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        self.indptr = torch.as_tensor(indptr)

    @classmethod
    def from_votes(cls, votes: Any) -> "VoteIndex":
        """From a :class:`crowdwise.Votes`."""
        return cls(votes.task, votes.worker, votes.label, votes.n_tasks)

    def gather(self, tasks: torch.Tensor, *, with_position: bool = False) -> tuple[torch.Tensor, ...]:
        """Votes of the tasks of a batch: ``(row, worker, label)`` [+ original vote index].

        ``row[v]`` is the position in ``tasks`` of the task of vote ``v``.
        """
        tasks = torch.as_tensor(tasks, dtype=torch.int64).cpu()
        start, stop = self.indptr[tasks], self.indptr[tasks + 1]
        n = stop - start
        row = torch.repeat_interleave(torch.arange(tasks.numel()), n)
        offsets = torch.cumsum(n, 0) - n  # first vote of each batch row among the gathered
        pos = start[row] + torch.arange(int(n.sum())) - offsets[row]
        out = (row, self.worker[pos], self.label[pos])
        return out + (self.vote[pos],) if with_position else out


# --------------------------------------------------------------------------- heads
def _simplex_logits(n_workers: int, k: int, init_diag: float) -> torch.Tensor:
    """Logits of confusions whose rows are ``init_diag`` on the diagonal, the rest spread."""
    if not 0.0 < init_diag < 1.0:
        raise InputError(f"init_diag={init_diag} is outside (0, 1)",
                         fix="give the initial probability of a correct answer, e.g. 0.8")
    off = (1.0 - init_diag) / max(k - 1, 1)
    m = torch.full((k, k), math.log(off)) if k > 1 else torch.zeros(1, 1)
    m.fill_diagonal_(math.log(init_diag) if k > 1 else 0.0)
    return m.expand(n_workers, k, k).clone() if n_workers else m.clone()


class CrowdHead(nn.Module):
    """Base class of the crowd layers: a per-vote annotation model plus a regulariser.

    Subclasses implement :meth:`log_annotation` (log-probabilities of each vote's answer
    distribution) and may override :meth:`penalty`. The training loss is

    .. math::

        \\mathcal{L} = -\\frac{1}{|V|} \\sum_{v \\in V} \\log q_v(y_v) + \\text{penalty},

    where :math:`V` are the votes of the batch, :math:`y_v` the answered class and
    :math:`q_v` the predicted answer distribution of the vote's worker on its task.
    """

    #: True when :meth:`log_annotation` needs the classifier's embedding
    needs_embedding = False

    def __init__(self, n_workers: int, n_classes: int) -> None:
        super().__init__()
        if int(n_workers) < 1 or int(n_classes) < 2:
            raise InputError(f"a crowd layer needs >= 1 worker and >= 2 classes, got {n_workers} "
                             f"worker(s) and {n_classes} class(es)")
        self.n_workers = int(n_workers)
        self.n_classes = int(n_classes)

    def log_annotation(self, logits: torch.Tensor, row: torch.Tensor, worker: torch.Tensor,
                       embedding: torch.Tensor | None = None) -> torch.Tensor:  # pragma: no cover
        """``(n_votes, K)`` log-probabilities of the answer of each vote's worker."""
        raise NotImplementedError

    def penalty(self, logits: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:
        """Regulariser added to the loss (0 by default)."""
        return logits.new_zeros(())

    def loss(self, logits: torch.Tensor, row: torch.Tensor, worker: torch.Tensor, label: torch.Tensor,
             embedding: torch.Tensor | None = None) -> torch.Tensor:
        """Mean negative log-likelihood of the votes of the batch, plus :meth:`penalty`."""
        pen = self.penalty(logits, embedding)
        if row.numel() == 0:
            return pen
        logq = self.log_annotation(logits, row, worker, embedding)
        return F.nll_loss(logq, label.to(logq.device)) + pen

    def confusions(self) -> np.ndarray:  # pragma: no cover
        """``(n_workers, K, K)`` learnt confusions, ``[j, k, l] = P(answer l | truth k)``."""
        raise NotImplementedError


class CrowdLayer(CrowdHead):
    r"""Crowd layer with matrix weights per worker (MW), Rodrigues & Pereira (2018).

    Each worker :math:`j` has an unconstrained :math:`K \times K` matrix :math:`W_j`,
    initialised to the identity, applied to the classifier's probabilities; its output
    are the logits of the worker's answer:

    .. math::

        a_j(x) = W_j\, p(x), \qquad
        P(y^{(j)} = l \mid x) = \operatorname{softmax}(a_j(x))_l .

    The loss is the cross-entropy of each vote against :math:`a_j(x)` (the paper's masked
    multi-annotator cross-entropy). With :math:`W_j = I` the layer outputs the
    classifier's probabilities unchanged (:meth:`outputs`). The effective confusion of
    worker :math:`j` is the answer distribution for a one-hot prediction of class
    :math:`k`, ``confusions()[j, k] = softmax(W_j[:, k])``.

    Parameters
    ----------
    n_workers, n_classes : int

    References
    ----------
    F. Rodrigues and F. Pereira, "Deep learning from crowds", AAAI 2018.

    Examples
    --------
    >>> layer = CrowdLayer(n_workers=2, n_classes=3)
    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> out = layer.outputs(logits, torch.tensor([0, 0]), torch.tensor([0, 1]))
    >>> torch.allclose(out, torch.softmax(logits, 1).expand(2, 3))
    True
    """

    def __init__(self, n_workers: int, n_classes: int) -> None:
        super().__init__(n_workers, n_classes)
        self.weight = nn.Parameter(torch.eye(self.n_classes).expand(self.n_workers, -1, -1).clone())

    def outputs(self, logits: torch.Tensor, row: torch.Tensor, worker: torch.Tensor) -> torch.Tensor:
        """``(n_votes, K)`` crowd-layer outputs :math:`W_{j_v} p(x_{i_v})` (answer logits)."""
        p = torch.softmax(logits, dim=1)[row]
        return torch.bmm(self.weight[worker], p.unsqueeze(2)).squeeze(2)

    def log_annotation(self, logits, row, worker, embedding=None):
        return torch.log_softmax(self.outputs(logits, row, worker), dim=1)

    def confusions(self) -> np.ndarray:
        with torch.no_grad():
            return torch.softmax(self.weight.transpose(1, 2), dim=2).cpu().numpy().astype(float)


class _SimplexConfusions(CrowdHead):
    """Per-worker confusions with rows on the simplex: ``softmax`` of free logits."""

    def __init__(self, n_workers: int, n_classes: int, init_diag: float = 0.8) -> None:
        super().__init__(n_workers, n_classes)
        self.init_diag = init_diag
        self.worker_logits = nn.Parameter(_simplex_logits(self.n_workers, self.n_classes, init_diag))

    def worker_confusions(self) -> torch.Tensor:
        """``(n_workers, K, K)`` row-stochastic confusions (rows = true class)."""
        return torch.softmax(self.worker_logits, dim=2)

    def confusions(self) -> np.ndarray:
        with torch.no_grad():
            return self.worker_confusions().cpu().numpy().astype(float)


class GeoCrowdNet(_SimplexConfusions):
    r"""Coupled cross-entropy with a volume regulariser, Ibrahim, Nguyen & Fu (ICLR 2023).

    Worker :math:`j` answers through a confusion :math:`A_j` whose columns lie on the
    simplex (:math:`A_j[l, k] = P(y^{(j)} = l \mid \text{truth } k)`, parametrised by a
    softmax; ``confusions()`` returns :math:`A_j^\top`). The coupled cross-entropy of the
    votes is

    .. math::

        \mathrm{CCE} = -\frac{1}{|V|} \sum_{(i, j, l) \in V} \log\,[A_j f(x_i)]_l ,

    and the two regularised forms are

    - ``form="F"`` (GeoCrowdNet (F)): :math:`\mathrm{CCE} - \lambda \log\det(F F^\top)`,
      :math:`F = [f(x_1), \dots, f(x_B)] \in \mathbb{R}^{K \times B}` the classifier's
      probabilities over the batch (pushes the predictions to fill the simplex);
    - ``form="W"`` (GeoCrowdNet (W)): :math:`\mathrm{CCE} - \lambda \log\det(W^\top W)`,
      :math:`W = [A_1; \dots; A_M] \in \mathbb{R}^{MK \times K}` the stacked confusions
      (pushes the confusions to be spread, i.e. far from rank deficient).

    ``lam=0`` is the plain coupled cross-entropy (:class:`CoupledCE`). A small
    ``eps * I`` is added inside the determinant so that the log stays finite.

    The F form is computed per mini-batch: :math:`F F^\top` of a batch of :math:`B < K`
    rows has rank :math:`B`, its log-det is :math:`(K - B) \log \epsilon` plus the
    volume of the :math:`B` points, another criterion whose value only ``eps`` keeps
    finite. Such a batch (the remainder of an epoch: the training loop keeps the last,
    incomplete batch) adds its CCE alone, without the log-det term; every batch of
    :math:`B \ge K` rows has it. (With fewer training tasks than classes the F term never
    applies.) The W form does not depend on the batch.

    Parameters
    ----------
    n_workers, n_classes : int
    lam : float, default 0.01
        Weight :math:`\lambda` of the log-det term.
    form : {"F", "W"}
    init_diag : float, default 0.8
        Initial probability of a correct answer in every confusion (the rest spread evenly).
    eps : float, default 1e-6

    References
    ----------
    S. Ibrahim, T. Nguyen and X. Fu, "Deep learning from crowdsourced labels: coupled
    cross-entropy minimization, identifiability, and regularization", ICLR 2023.

    Examples
    --------
    >>> head = GeoCrowdNet(n_workers=3, n_classes=2, lam=0.0)
    >>> head.confusions()[0].round(2).tolist()
    [[0.8, 0.2], [0.2, 0.8]]
    """

    def __init__(self, n_workers: int, n_classes: int, lam: float = 0.01, form: str = "F",
                 init_diag: float = 0.8, eps: float = 1e-6) -> None:
        super().__init__(n_workers, n_classes, init_diag)
        form = str(form).upper()
        if form not in ("F", "W"):
            raise InputError(f"GeoCrowdNet form {form!r} is neither F nor W",
                             fix="use form='F' (log det F F^T) or form='W' (log det W^T W)")
        if not lam >= 0:
            raise InputError(f"lambda={lam} must be >= 0", fix="give the weight of the log-det term, e.g. 0.01")
        self.lam, self.form, self.eps = float(lam), form, float(eps)

    def log_annotation(self, logits, row, worker, embedding=None):
        p = torch.softmax(logits, dim=1)[row]  # (V, K)
        q = torch.bmm(p.unsqueeze(1), self.worker_confusions()[worker].to(p.dtype)).squeeze(1)  # p^T Pi_j
        return torch.log(q.clamp_min(1e-12))

    def loss(self, logits, row, worker, label, embedding=None):
        pen = self.penalty(logits, embedding)
        if row.numel() == 0:
            return pen
        # only the voted column is needed: q_v(y_v) = sum_k p_k Pi_j[k, y_v]   (O(V K))
        p = torch.softmax(logits, dim=1)[row]
        col = self.worker_confusions()[worker, :, label.to(worker.device)].to(p.dtype)
        return -torch.log((p * col).sum(1).clamp_min(1e-12)).mean() + pen

    def logdet_term(self, logits: torch.Tensor) -> torch.Tensor:
        r"""The log-det of the chosen form (without :math:`-\lambda`)."""
        eye = torch.eye(self.n_classes, device=logits.device, dtype=logits.dtype)
        if self.form == "F":
            f = torch.softmax(logits, dim=1)  # (B, K): F^T
            gram = f.T @ f
        else:
            a = self.worker_confusions()  # (M, K, K) = A_j^T ; W^T W = sum_j A_j^T A_j
            at = a.to(logits.dtype)
            gram = torch.einsum("mkl,mhl->kh", at, at)
        return torch.logdet(gram + self.eps * eye)

    def penalty(self, logits, embedding=None):
        if self.lam == 0.0 or (self.form == "F" and logits.shape[0] < self.n_classes):
            # F F^T of fewer rows than classes is rank-deficient: no log-det for that batch
            return logits.new_zeros(())
        return -self.lam * self.logdet_term(logits)


class CoupledCE(GeoCrowdNet):
    r"""Plain coupled cross-entropy: :class:`GeoCrowdNet` with :math:`\lambda = 0`.

    .. math::

        \mathrm{CCE} = -\frac{1}{|V|} \sum_{(i, j, l) \in V} \log\,[A_j f(x_i)]_l .

    References
    ----------
    S. Ibrahim, T. Nguyen and X. Fu, ICLR 2023 (the unregularised criterion of their
    Section 3).
    """

    def __init__(self, n_workers: int, n_classes: int, init_diag: float = 0.8) -> None:
        super().__init__(n_workers, n_classes, lam=0.0, form="F", init_diag=init_diag)


class CoNAL(_SimplexConfusions):
    r"""Common Noise Adaptation Layers, Chu, Ma & Wang (AAAI 2021).

    Two kinds of confusion: one global matrix :math:`\Pi_g` (confusions all workers
    share) and one per worker :math:`\Pi_j`, rows on the simplex. An auxiliary network
    gives, for each vote, the weight of the common confusion from the classifier's
    embedding :math:`h(x)` and a worker embedding :math:`u_j`:

    .. math::

        \omega_j(x) = \sigma\big(\langle \bar v(x), \bar u_j \rangle\big), \quad
        v(x) = W_2 W_1 h(x), \quad \bar a = a / \lVert a \rVert,

        P(y^{(j)} = l \mid x) = \omega_j(x)\,[p(x)^\top \Pi_g]_l
            + (1 - \omega_j(x))\,[p(x)^\top \Pi_j]_l .

    The loss is the negative log-likelihood of the votes minus the regulariser of the
    paper, which keeps the individual confusions away from the common one:

    .. math::

        \mathcal{L} = \mathrm{NLL} - \text{scale} \sum_j \lVert \Pi_j - \Pi_g \rVert_F .

    (It acts on the row-stochastic matrices, so it is bounded, :math:`\le \sqrt{2K}` per
    worker.) With ``scale=0`` the penalty vanishes; when every :math:`\Pi_j = \Pi_g` the
    answer distribution no longer depends on :math:`\omega` (tested). Every :math:`\Pi_j`
    starts equal to :math:`\Pi_g` (same ``init_diag``), where the norm's (sub)gradient is
    0: the term acts once the likelihood has moved them apart, with a gradient of norm
    ``scale`` per worker on :math:`\Pi_j` (tested against a hand derivation).

    Parameters
    ----------
    n_workers, n_classes : int
    embedding_dim : int
        Size of the classifier's embedding :math:`h(x)` (``None``: lazily inferred).
    scale : float, default 0.0
        Weight of the regulariser (the paper's :math:`\lambda`; ``CoNAL[scale=1e-4]``).
    com_emb_size : int, default 20
        Size of the instance and worker embeddings of the auxiliary network.
    hidden : int, default 128
    init_diag : float, default 0.8

    References
    ----------
    Z. Chu, J. Ma and H. Wang, "Learning from crowds by modeling common confusions",
    AAAI 2021.
    """

    needs_embedding = True

    def __init__(self, n_workers: int, n_classes: int, embedding_dim: int | None = None, scale: float = 0.0,
                 com_emb_size: int = 20, hidden: int = 128, init_diag: float = 0.8) -> None:
        super().__init__(n_workers, n_classes, init_diag)
        if not scale >= 0:
            raise InputError(f"CoNAL scale={scale} must be >= 0", fix="e.g. CoNAL[scale=1e-4]")
        self.scale = float(scale)
        self.global_logits = nn.Parameter(_simplex_logits(0, self.n_classes, init_diag))
        lin = nn.Linear(embedding_dim, hidden) if embedding_dim else nn.LazyLinear(hidden)
        self.instance_net = nn.Sequential(lin, nn.Linear(hidden, com_emb_size))
        self.worker_embedding = nn.Embedding(self.n_workers, com_emb_size)

    def global_confusion(self) -> torch.Tensor:
        """``(K, K)`` row-stochastic common confusion."""
        return torch.softmax(self.global_logits, dim=1)

    def common_weight(self, embedding: torch.Tensor, row: torch.Tensor, worker: torch.Tensor) -> torch.Tensor:
        """:math:`\\omega_j(x)` of each vote, shape ``(n_votes,)``."""
        v = F.normalize(self.instance_net(embedding.flatten(1)), dim=1)[row]
        u = F.normalize(self.worker_embedding(worker.to(embedding.device)), dim=1)
        return torch.sigmoid((v * u).sum(1))

    def log_annotation(self, logits, row, worker, embedding=None):
        if embedding is None:
            raise InputError("CoNAL needs the classifier's embedding", fix="wrap the classifier in CrowdModel")
        p = torch.softmax(logits, dim=1)[row]
        common = p @ self.global_confusion().to(p.dtype)
        own = torch.bmm(p.unsqueeze(1), self.worker_confusions()[worker].to(p.dtype)).squeeze(1)
        w = self.common_weight(embedding, row, worker).unsqueeze(1)
        return torch.log((w * common + (1 - w) * own).clamp_min(1e-12))

    def penalty(self, logits, embedding=None):
        if self.scale == 0.0:
            return logits.new_zeros(())
        diff = self.worker_confusions() - self.global_confusion()
        return -self.scale * diff.flatten(1).norm(dim=1).sum()


# --------------------------------------------------------------------------- model
class CrowdModel(nn.Module):
    """A classifier and a crowd layer trained together.

    ``forward(x)`` returns ``(logits, embedding)`` (the training loop of
    :mod:`crowdwise.learn.train` takes the first item as the class logits),
    :meth:`predict_logits` the classifier's logits alone (what predicts the true class);
    :meth:`crowd_loss` is the training criterion on the votes of a batch.

    The embedding given to layers that need one (CoNAL) is ``classifier.backbone(x)``
    when the classifier has ``backbone`` and ``head`` parts, else the input itself
    (features) flattened.

    Parameters
    ----------
    classifier : nn.Module
        Maps a batch of inputs to ``(B, K)`` logits.
    head : CrowdHead
    """

    def __init__(self, classifier: nn.Module, head: CrowdHead) -> None:
        super().__init__()
        self.classifier = classifier
        self.head = head

    def _split(self) -> tuple[nn.Module, nn.Module] | None:
        c = self.classifier
        b, h = getattr(c, "backbone", None), getattr(c, "head", None)
        return (b, h) if isinstance(b, nn.Module) and isinstance(h, nn.Module) else None

    def forward_with_embedding(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, embedding)``."""
        parts = self._split()
        if parts is not None:
            emb = parts[0](x)
            return parts[1](emb), emb
        return self.classifier(x), x

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(logits, embedding)``; the embedding is None when the layer needs none."""
        if self.head.needs_embedding:
            return self.forward_with_embedding(x)
        return self.classifier(x), None

    def predict_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The classifier's logits (what predicts the true class)."""
        return self.classifier(x)

    def crowd_loss(self, x: torch.Tensor, row: torch.Tensor, worker: torch.Tensor,
                   label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loss, logits)`` of a batch ``x`` with its votes ``(row, worker, label)``."""
        dev = x.device
        logits, emb = self(x)
        loss = self.head.loss(logits, row.to(dev), worker.to(dev), label.to(dev), emb)
        return loss, logits


# --------------------------------------------------------------------------- registry
#: CLI name -> (class, {cli parameter -> constructor parameter}, fixed arguments)
CROWD_STRATEGIES: dict[str, tuple[type[CrowdHead], dict[str, str], dict[str, Any]]] = {
    "crowdlayer": (CrowdLayer, {}, {}),
    "conal": (CoNAL, {"scale": "scale", "lambda": "scale", "com_emb_size": "com_emb_size",
                      "hidden": "hidden", "init_diag": "init_diag"}, {}),
    "geocrowdnet-f": (GeoCrowdNet, {"lambda": "lam", "lam": "lam", "init_diag": "init_diag", "eps": "eps"},
                      {"form": "F"}),
    "geocrowdnet-w": (GeoCrowdNet, {"lambda": "lam", "lam": "lam", "init_diag": "init_diag", "eps": "eps"},
                      {"form": "W"}),
    "coupledce": (CoupledCE, {"init_diag": "init_diag"}, {}),
}

_NAMES = {"crowdlayer": "CrowdLayer", "conal": "CoNAL", "geocrowdnet-f": "GeoCrowdNet-F",
          "geocrowdnet-w": "GeoCrowdNet-W", "coupledce": "CoupledCE"}


def parse_crowd_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"CoNAL[scale=1e-4]"`` -> ``("CoNAL", {"scale": 0.0001})`` (canonical name).

    Examples
    --------
    >>> parse_crowd_spec("geocrowdnet-w[lambda=0.01]")
    ('GeoCrowdNet-W', {'lam': 0.01})
    """
    from ..aggregate.registry import parse_spec

    name, params = parse_spec(spec)
    key = name.lower()
    if key not in CROWD_STRATEGIES:
        raise InputError(f"unknown crowd-layer strategy {name!r}",
                         fix=f"use one of {', '.join(_NAMES.values())}, e.g. CoNAL[scale=1e-4]")
    _, aliases, _ = CROWD_STRATEGIES[key]
    out: dict[str, Any] = {}
    for k, v in params.items():
        if k.lower() not in aliases:
            raise InputError(f"{_NAMES[key]} has no parameter {k!r}",
                             fix=f"use {', '.join(sorted(set(aliases))) or 'no parameter'}")
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise InputError(f"parameter {k}={v!r} of {_NAMES[key]} is not a number", fix="e.g. scale=1e-4")
        out[aliases[k.lower()]] = v
    return _NAMES[key], out


def make_crowd_head(spec: str, n_workers: int, n_classes: int, **kwargs: Any) -> CrowdHead:
    """Build a crowd layer from a CLI spec such as ``"GeoCrowdNet-F[lambda=0.01]"``.

    ``kwargs`` (e.g. ``embedding_dim`` for CoNAL) are passed when the class takes them.

    Examples
    --------
    >>> make_crowd_head("CoNAL[scale=1e-4]", 4, 3).scale
    0.0001
    """
    import inspect

    name, params = parse_crowd_spec(spec)
    cls, _, fixed = CROWD_STRATEGIES[name.lower()]
    accepted = set(inspect.signature(cls.__init__).parameters)
    extra = {k: v for k, v in kwargs.items() if k in accepted}
    for k in ("com_emb_size", "hidden"):
        if k in params:
            params[k] = int(params[k])
    return cls(n_workers, n_classes, **fixed, **params, **extra)


class VoteLoss:
    """The loss protocol of :func:`crowdwise.learn.train.fit` for a :class:`CrowdModel`:
    ``loss(output, target, index)`` gathers the votes of the batch tasks ``index`` and
    returns the crowd layer's loss (``target`` is not used)."""

    def __init__(self, head: CrowdHead, index: VoteIndex) -> None:
        self.head, self.index = head, index

    def __call__(self, output: Any, target: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        logits, emb = output
        row, worker, label = self.index.gather(index)
        dev = logits.device
        return self.head.loss(logits, row.to(dev), worker.to(dev), label.to(dev), emb)


@dataclass
class CrowdFit:
    """What :func:`fit_crowd_layer` returns.

    Attributes
    ----------
    model : CrowdModel
        Classifier + crowd layer, best weights (on the validation set when given).
    strategy : str
        Canonical name of the layer (``"CoNAL"``...), with its parameters.
    confusions : ndarray (n_workers, K, K)
        Learnt confusions, ``[j, k, l] = P(worker j answers l | truth k)``.
    soft_labels : ndarray (n_tasks, K)
        The classifier's probabilities on the training tasks (rows of ``data.train``).
    metrics : dict
        ``test_accuracy``, ``test_ece``, top-k accuracies... when ``data.test`` has truth.
    test_proba : ndarray or None
    history : list of dict
        Per-epoch records of the training loop; ``best_epoch`` 1-based.
    """

    model: CrowdModel
    strategy: str
    confusions: np.ndarray
    soft_labels: np.ndarray
    metrics: dict[str, Any]
    test_proba: np.ndarray | None
    history: list[dict[str, float]]
    best_epoch: int
    seconds: float


def fit_crowd_layer(votes: Any, data: Any, strategy: str | CrowdHead, *, model: str = "mlp",
                    model_options: dict[str, Any] | None = None, config: Any = None,
                    targets: Any = None, head_lr: float | None = None, progress: bool | str = False,
                    img_size: int = 224) -> CrowdFit:
    """Train a classifier end to end from the votes through a crowd layer.

    Parameters
    ----------
    votes : Votes
    data : TaskData
        ``data.train`` rows aligned with ``votes.task_ids``
        (:func:`crowdwise.learn.data.load_task_data`); ``val`` (with truth) picks the
        best epoch, ``test`` (with truth) is scored.
    strategy : str or CrowdHead
        ``"CrowdLayer"``, ``"CoNAL[scale=1e-4]"``, ``"GeoCrowdNet-F[lambda=0.01]"``,
        ``"GeoCrowdNet-W[lambda=0.01]"``, ``"CoupledCE"``, or a layer instance.
    model : str
        :func:`crowdwise.learn.models.build_model` name; ``model_options`` its keywords
        (``hidden``, ``dropout``, ``weights``...). The seed of the initial weights is
        ``config.seed``.
    config : TrainConfig, optional
        The training loop's settings; the crowd layer's parameters get no weight decay.
    targets : array (n_tasks,), optional
        Only decides which training rows are used (rows with -1 are left out); by
        default every task with at least one vote. The loss uses the votes alone.
    head_lr : float, optional
        Learning rate of the crowd layer (default: ``config.lr``).
    progress : bool or str
        Progress bar over the epochs.
    """
    from .data import make_dataset
    from .models import build_model
    from .train import TrainConfig, evaluate, fit, predict_proba

    cfg = config or TrainConfig()
    if len(data.train) != votes.n_tasks:
        raise InputError(f"{len(data.train)} training rows for {votes.n_tasks} tasks of the votes",
                         fix="load the items with the votes (load_task_data(..., votes=votes))")
    k = votes.n_classes
    opts = dict(model_options or {})
    opts.setdefault("seed", cfg.seed)
    if data.n_features is not None:
        opts.setdefault("n_features", data.n_features)
    clf = build_model(model, k, **opts)
    if isinstance(strategy, CrowdHead):
        head, name = strategy, type(strategy).__name__
    else:
        name = strategy
        with torch.random.fork_rng():
            torch.manual_seed(cfg.seed)
            head = make_crowd_head(strategy, votes.n_workers, k, embedding_dim=getattr(clf, "n_embed", None))
    crowd = CrowdModel(clf, head)
    if targets is None:
        targets = np.where(votes.votes_per_task() > 0, 0, -1)
    train_set = make_dataset(data.train, np.asarray(targets), img_size=img_size)
    val_set = make_dataset(data.val, img_size=img_size) if data.val is not None and data.val.has_truth else None
    groups = [{"params": [p for p in clf.parameters() if p.requires_grad]},
              {"params": list(head.parameters()), "weight_decay": 0.0,
               **({"lr": head_lr} if head_lr is not None else {})}]
    res = fit(crowd, train_set, config=cfg, val_set=val_set, loss=VoteLoss(head, VoteIndex.from_votes(votes)),
              params=groups, progress=progress)
    soft = predict_proba(crowd, data.train, img_size=img_size)
    metrics: dict[str, Any] = {}
    test_proba = None
    if data.test is not None and data.test.has_truth:
        metrics, test_proba = evaluate(crowd, data.test, img_size=img_size)
    return CrowdFit(crowd, name, head.confusions(), soft, metrics, test_proba, res.history, res.best_epoch,
                    res.seconds)
