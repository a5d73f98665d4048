"""The training loop: hard or soft targets, SGD / Adam, schedulers, best-on-validation,
seeded, with hooks for other losses, model wrappers and per-epoch callbacks.

One loop serves every learning-from-crowds method:

- ``crowdwise train`` fits a :class:`~crowdwise.learn.models.Classifier` on aggregated
  labels with the default :func:`cross_entropy` (hard labels, or soft labels as
  ``crowdwise aggregate`` writes them);
- crowd layers pass their wrapper as ``model`` and their own ``loss(output, target,
  index)``: the ``index`` of each example (the task index in the votes) lets the loss
  fetch the votes of the batch;
- AUM / WAUM pass a :class:`Callback` whose ``on_batch_end`` receives the per-example
  class logits and indices of every training batch, and ``on_epoch_end`` the state.

Conventions
-----------
- A batch of the training set is ``(x, target, index)`` (see
  :func:`crowdwise.learn.data.make_dataset`); ``target`` is int64 (hard) or float
  (soft) and is passed to the loss as it is.
- ``model(x)`` may return the class logits, or a tuple whose first item, or a dict whose
  ``"logits"`` item, is the class logits (:func:`class_logits`). A wrapper whose forward
  returns something else (per-worker scores) defines ``predict_logits(x)``, used for
  validation and prediction (:func:`eval_logits`).
- Determinism: the loop runs under a forked torch RNG seeded with ``config.seed`` (the
  caller's global RNG is left as it was), the shuffling uses its own seeded
  ``torch.Generator``. On the CPU two runs with the same seed give the same weights bit
  for bit; on a GPU, cuDNN may not be deterministic.
- Best model: with a validation set, the weights of the epoch with the highest
  validation accuracy (the lowest validation loss among epochs tied on accuracy, then
  the earliest; or simply the lowest validation loss with ``select="val_loss"``) are
  restored at the end; without one, the last epoch's.

References
----------
.. [1] I. Loshchilov and F. Hutter. "SGDR: stochastic gradient descent with warm
   restarts". ICLR 2017 (cosine annealing).
.. [2] T. Lefort, B. Charlier, A. Joly and J. Salmon. "Peerannot: classification for
   crowdsourced image datasets with Python". Computo 2024 (the training recipe of
   ``peerannot train``: SGD, momentum 0.9, weight decay 5e-4, multistep schedule).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CrowdwiseError, InputError
from .data import Split, TaskDataset, make_dataset
from .metrics import DEFAULT_N_BINS, classification_report
from .models import default_device

__all__ = ["TrainConfig", "fit", "FitResult", "TrainState", "BatchOutput", "Callback", "RichProgress",
           "cross_entropy", "class_logits", "eval_logits", "predict_proba", "evaluate", "TrainingDiverged",
           "LossFn"]

#: ``loss(output, target, index) -> scalar tensor``
LossFn = Callable[[Any, torch.Tensor, torch.Tensor], torch.Tensor]

OPTIMIZERS = ("sgd", "adam")
SCHEDULERS = ("multistep", "cosine", "none")
SELECT = ("val_accuracy", "val_loss")


class TrainingDiverged(CrowdwiseError):
    """The training loss became NaN or infinite."""


def _check_device(device: Any) -> None:
    """A device torch can parse and that this machine has (else torch fails deep in the loop)."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"device {device!r} is not a torch device", fix="use cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise InputError(f"device {device!r} asked for, but torch sees no CUDA GPU on this machine",
                             fix="use --device cpu (or leave --device out: cuda is used when available)")
        if dev.index is not None and dev.index >= n:
            raise InputError(f"device {device!r} asked for, but torch sees {n} CUDA GPU(s) (cuda:0..cuda:{n - 1})",
                             fix=f"use cuda:0..cuda:{n - 1}")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of :func:`fit`.

    Parameters
    ----------
    epochs : int
        Passes over the training set.
    batch_size : int
    optimizer : {"sgd", "adam"}
        SGD with ``momentum`` (Nesterov off), or Adam.
    lr : float
        Initial learning rate.
    momentum : float
        SGD momentum.
    weight_decay : float
        L2 penalty (coupled, as torch's SGD/Adam ``weight_decay``).
    scheduler : {"multistep", "cosine", "none"}
        ``multistep``: lr multiplied by ``gamma`` at each of ``milestones`` (epochs);
        ``cosine``: cosine annealing from ``lr`` to 0 over ``epochs`` (Loshchilov &
        Hutter 2017); ``none``: constant.
    milestones : tuple of int, optional
        Epochs of the multistep schedule. Default ``(epochs // 2, 3 * epochs // 4)``.
    gamma : float
        Multistep factor.
    seed : int
        Seeds the shuffling, dropout, augmentation: everything random in the loop.
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``... Default: cuda when available, else cpu.
    num_workers : int
        DataLoader worker processes (0 = load in the main process; images only benefit).
    select : {"val_accuracy", "val_loss"}
        What picks the best epoch when a validation set is given (accuracy ties are
        broken by the lower validation loss).
    eval_batch_size : int
        Batch size for validation and prediction.
    threads : int, optional
        CPU threads of torch during the loop (restored afterwards). Small models on a
        busy machine train many times faster with 1 than with the default (one per
        core). None: leave torch's setting.
    """

    epochs: int = 50
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    scheduler: str = "multistep"
    milestones: tuple[int, ...] | None = None
    gamma: float = 0.1
    seed: int = 0
    device: str | None = None
    num_workers: int = 0
    select: str = "val_accuracy"
    eval_batch_size: int = 256
    threads: int | None = None

    def __post_init__(self) -> None:
        def pos_int(name: str, low: int = 1) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise InputError(f"{name} must be an integer >= {low}, got {v!r}", fix=f"pass {name} >= {low}")

        for name in ("epochs", "batch_size", "eval_batch_size"):
            pos_int(name)
        pos_int("num_workers", 0)
        pos_int("seed", 0)
        if self.threads is not None:
            pos_int("threads")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"unknown optimizer {self.optimizer!r}", fix=f"use one of {', '.join(OPTIMIZERS)}")
        if self.scheduler not in SCHEDULERS:
            raise InputError(f"unknown scheduler {self.scheduler!r}", fix=f"use one of {', '.join(SCHEDULERS)}")
        if self.select not in SELECT:
            raise InputError(f"unknown selection {self.select!r}", fix=f"use one of {', '.join(SELECT)}")
        for name in ("lr", "momentum", "weight_decay", "gamma"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or (name == "lr" and v == 0):
                raise InputError(f"{name} must be a finite number {'> 0' if name == 'lr' else '>= 0'}, got {v!r}",
                                 fix=f"pass a valid {name}")
        if self.milestones is not None:
            ms = tuple(self.milestones)
            if not all(isinstance(m, (int, np.integer)) and not isinstance(m, bool) and m >= 1 for m in ms) \
                    or list(ms) != sorted(ms):
                raise InputError(f"milestones must be increasing epochs >= 1, got {self.milestones!r}",
                                 fix="e.g. milestones=(25, 50)")
            object.__setattr__(self, "milestones", tuple(int(m) for m in ms))
        if self.device is not None:
            _check_device(self.device)

    @property
    def resolved_milestones(self) -> tuple[int, ...]:
        """The multistep epochs actually used."""
        if self.milestones is not None:
            return self.milestones
        return tuple(sorted({m for m in (self.epochs // 2, (3 * self.epochs) // 4) if m >= 1}))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (milestones resolved for ``multistep``, None for another schedule;
        device as used by default)."""
        d = asdict(self)
        d["milestones"] = list(self.resolved_milestones) if self.scheduler == "multistep" else None
        d["device"] = str(self.device or default_device())
        return d


def cross_entropy(output: Any, target: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
    """Mean cross-entropy of the class logits against hard or soft targets.

    Hard targets ``y`` (int64, shape ``(B,)``):
    :math:`\\ell = -\\frac1B \\sum_i \\log \\mathrm{softmax}(z_i)_{y_i}`.
    Soft targets ``p`` (float, shape ``(B, K)``, rows summing to 1):
    :math:`\\ell = -\\frac1B \\sum_i \\sum_k p_{ik} \\log \\mathrm{softmax}(z_i)_k`.
    ``index`` is accepted for the loss protocol and unused.

    Examples
    --------
    >>> z = torch.tensor([[math.log(3.0), 0.0]])
    >>> round(cross_entropy(z, torch.tensor([0])).item(), 6)  # -log(3/4)
    0.287682
    >>> round(cross_entropy(z, torch.tensor([[0.5, 0.5]])).item(), 6)  # -(log(3/4) + log(1/4)) / 2
    0.836988
    """
    logits = class_logits(output)
    if target.dtype in (torch.int64, torch.int32, torch.int16, torch.uint8):
        return F.cross_entropy(logits, target.long())
    return -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def class_logits(output: Any) -> torch.Tensor:
    """The class logits inside a model output: the tensor itself, the first item of a
    tuple / list, or the ``"logits"`` item of a dict."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    if isinstance(output, dict) and isinstance(output.get("logits"), torch.Tensor):
        return output["logits"]
    raise TypeError("model output must be logits, a tuple starting with the logits, or a dict with 'logits'; "
                    f"got {type(output).__name__}")


def eval_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Class logits for evaluation: ``model.predict_logits(x)`` when the model has it,
    else :func:`class_logits` of ``model(x)``."""
    predict = getattr(model, "predict_logits", None)
    return predict(x) if callable(predict) else class_logits(model(x))


@dataclass
class BatchOutput:
    """What a callback sees after each training step.

    Attributes
    ----------
    output : Any
        The raw ``model(x)`` (graph detached only for ``logits``).
    logits : Tensor, shape (B, K)
        The class logits of this forward pass, detached (train mode: dropout and
        augmentation as the loss saw them).
    target : Tensor
        The batch targets, as given to the loss.
    index : Tensor of int64, shape (B,)
        Row of each example in the training split (the task index of the votes).
    loss : float
        The batch loss.
    """

    output: Any
    logits: torch.Tensor
    target: torch.Tensor
    index: torch.Tensor
    loss: float


@dataclass
class TrainState:
    """The loop's state, passed to every callback.

    ``epoch`` is 0-based and counts finished epochs in ``on_epoch_end`` minus one (the
    epoch just finished). Set ``stop = True`` in a callback to end training after the
    current epoch.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    config: TrainConfig
    device: torch.device
    train_set: Any
    val_set: Any
    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    best_score: tuple[float, ...] | None = None
    best_state: dict[str, torch.Tensor] | None = None
    stop: bool = False


class Callback:
    """Base class of training callbacks: override the hooks you need (all optional).

    Examples
    --------
    A callback recording the top-1 softmax probability of each example at each epoch:

    >>> class TopProb(Callback):
    ...     def on_train_begin(self, state):
    ...         self.p = np.zeros((state.config.epochs, len(state.train_set.split)))
    ...     def on_batch_end(self, state, batch):
    ...         p = batch.logits.softmax(1).max(1).values
    ...         self.p[state.epoch, batch.index.cpu().numpy()] = p.cpu().numpy()
    """

    def on_train_begin(self, state: TrainState) -> None:
        """Before the first epoch."""

    def on_batch_end(self, state: TrainState, batch: BatchOutput) -> None:
        """After each optimisation step."""

    def on_epoch_end(self, state: TrainState) -> None:
        """After each epoch, once ``state.history[-1]`` holds its record."""

    def on_train_end(self, state: TrainState) -> None:
        """After the last epoch, once the best weights are restored."""


class RichProgress(Callback):
    """A rich progress bar over the epochs (on stderr), with the last loss and validation
    accuracy. Use as a context manager around :func:`fit`, or let ``fit`` call it."""

    def __init__(self, description: str = "training", *, console: Any = None) -> None:
        self.description = description
        self.console = console
        self._progress = None
        self._task = None

    def on_train_begin(self, state: TrainState) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, \
            TimeElapsedColumn

        console = self.console or Console(stderr=True)
        # not a terminal (a log file, a pipe): no bar, and no blank line left behind
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                                  console=console, transient=True, disable=not console.is_terminal)
        self._progress.start()
        self._task = self._progress.add_task(self.description, total=state.config.epochs, info="")

    def on_epoch_end(self, state: TrainState) -> None:
        rec = state.history[-1]
        info = f"loss {rec['train_loss']:.4f}"
        if "val_accuracy" in rec:
            info += f"  val acc {rec['val_accuracy']:.4f}"
        self._progress.update(self._task, completed=state.epoch + 1, info=info)

    def on_train_end(self, state: TrainState) -> None:
        self.close()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    model : nn.Module
        The trained model, holding the best weights (on ``device``).
    history : list of dict
        One record per epoch: ``epoch`` (1-based), ``train_loss`` (mean over examples),
        ``lr`` (used during the epoch), and with a validation set ``val_accuracy`` and
        ``val_loss`` (cross-entropy against the truth).
    best_epoch : int
        1-based epoch whose weights were kept.
    best_state : dict
        Its state dict (tensors on the CPU).
    seconds : float
        Wall time of the loop.
    """

    model: nn.Module
    history: list[dict[str, float]]
    best_epoch: int
    best_state: dict[str, torch.Tensor]
    seconds: float

    @property
    def best_val_accuracy(self) -> float | None:
        rec = self.history[self.best_epoch - 1]
        return rec.get("val_accuracy")


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _make_optimizer(params: Any, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig) -> Any:
    if cfg.scheduler == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.resolved_milestones), gamma=cfg.gamma)
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    return None


def _loader(dataset: Any, batch_size: int, *, shuffle: bool, seed: int, num_workers: int,
            device: torch.device) -> torch.utils.data.DataLoader:
    gen = torch.Generator()
    gen.manual_seed(seed)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=gen,
                                       num_workers=num_workers, pin_memory=device.type == "cuda",
                                       collate_fn=getattr(dataset, "collate", None))


def fit(model: nn.Module, train_set: Any, *, config: TrainConfig | None = None, val_set: Any = None,
        loss: LossFn | None = None, callbacks: Iterable[Callback] = (), params: Any = None,
        progress: bool | str = False) -> FitResult:
    """Train ``model`` on ``train_set``; keep the best epoch on ``val_set``.

    Parameters
    ----------
    model : nn.Module
        A :class:`~crowdwise.learn.models.Classifier` or any wrapper of one (see the
        module conventions for its outputs).
    train_set : Dataset of (x, target, index)
        Usually :func:`crowdwise.learn.data.make_dataset` of the training split with the
        aggregated labels as targets.
    config : TrainConfig, optional
        Hyper-parameters (defaults of :class:`TrainConfig` when None).
    val_set : Dataset of (x, truth, index), optional
        Validation examples with their true class (``make_dataset(data.val)``). Scored
        after each epoch with :func:`eval_logits`.
    loss : callable, optional
        ``loss(output, target, index) -> scalar tensor``; default :func:`cross_entropy`.
    callbacks : iterable of Callback
        Hooks called at train begin, after each batch, after each epoch, at train end.
    params : iterable or list of dicts, optional
        What the optimiser updates (parameter groups allowed, e.g. another lr for a crowd
        layer). Default: the model's parameters that require gradients.
    progress : bool or str
        Show a rich progress bar over the epochs (a str is its description).

    Returns
    -------
    FitResult

    Raises
    ------
    TrainingDiverged
        The loss became NaN or infinite (lower the learning rate).

    Examples
    --------
    >>> from crowdwise.learn.data import Split, make_dataset
    >>> from crowdwise.learn.models import build_model
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 2)).astype(np.float32)
    >>> y = (x[:, 0] > 0).astype(np.int64)
    >>> split = Split("train", np.arange(200), y, features=x)
    >>> model = build_model("mlp", 2, n_features=2, hidden=(), seed=0)
    >>> res = fit(model, make_dataset(split, y), config=TrainConfig(epochs=20, lr=0.1, device="cpu", threads=1))
    >>> res.history[-1]["train_loss"] < res.history[0]["train_loss"], res.best_epoch
    (True, 20)
    """
    cfg = config or TrainConfig()
    device = torch.device(cfg.device) if cfg.device else default_device()
    if len(train_set) == 0:
        raise InputError("no training example: every label is missing (-1) or empty",
                         fix="check the labels file (hard labels: class indices; soft: rows with mass)")
    loss_fn = loss or cross_entropy
    callbacks = list(callbacks)
    if progress:
        callbacks.append(RichProgress(progress if isinstance(progress, str) else "training"))
    devices = [device.index or 0] if device.type == "cuda" else []
    t0 = time.perf_counter()
    old_threads = torch.get_num_threads()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(cfg.seed)
        model.to(device)
        if params is None:
            params = [p for p in model.parameters() if p.requires_grad]
        opt = _make_optimizer(params, cfg)
        sched = _make_scheduler(opt, cfg)
        loader = _loader(train_set, cfg.batch_size, shuffle=True, seed=cfg.seed, num_workers=cfg.num_workers,
                         device=device)
        state = TrainState(model, opt, sched, cfg, device, train_set, val_set)
        try:
            for cb in callbacks:
                cb.on_train_begin(state)
            for epoch in range(cfg.epochs):
                state.epoch = epoch
                lr = float(opt.param_groups[0]["lr"])
                total, count = 0.0, 0
                model.train()
                for x, target, index in loader:
                    x = x.to(device, non_blocking=True)
                    target = target.to(device, non_blocking=True)
                    index = index.to(device, non_blocking=True)
                    output = model(x)
                    batch_loss = loss_fn(output, target, index)
                    value = float(batch_loss.detach())
                    if not math.isfinite(value):
                        raise TrainingDiverged(f"the training loss is {value} at epoch {epoch + 1}. Fix: lower the "
                                               f"learning rate (now {lr:g}) or check the targets.")
                    opt.zero_grad(set_to_none=True)
                    batch_loss.backward()
                    opt.step()
                    total += value * len(index)
                    count += len(index)
                    if callbacks:
                        batch = BatchOutput(output, class_logits(output).detach(), target, index, value)
                        for cb in callbacks:
                            cb.on_batch_end(state, batch)
                if sched is not None:
                    sched.step()
                record: dict[str, float] = {"epoch": epoch + 1, "train_loss": total / max(count, 1), "lr": lr}
                if val_set is not None:
                    record.update(_validate(model, val_set, cfg, device))
                    # accuracy ties (frequent on small validation sets) go to the lower loss
                    score = (record["val_accuracy"], -record["val_loss"]) if cfg.select == "val_accuracy" \
                        else (-record["val_loss"],)
                    if state.best_score is None or score > state.best_score:
                        state.best_score, state.best_epoch = score, epoch
                        state.best_state = _cpu_state(model)
                state.history.append(record)
                for cb in callbacks:
                    cb.on_epoch_end(state)
                if state.stop:
                    break
            if state.best_state is None:
                state.best_epoch = state.epoch
                state.best_state = _cpu_state(model)
            else:
                model.load_state_dict(state.best_state)
            for cb in callbacks:
                cb.on_train_end(state)
        finally:
            torch.set_num_threads(old_threads)
            for cb in callbacks:
                if isinstance(cb, RichProgress):
                    cb.close()
    return FitResult(model, state.history, int(state.best_epoch) + 1, state.best_state, time.perf_counter() - t0)


def _validate(model: nn.Module, val_set: Any, cfg: TrainConfig, device: torch.device) -> dict[str, float]:
    logits, targets = _logits(model, val_set, cfg.eval_batch_size, device, num_workers=cfg.num_workers)
    if targets.dtype.is_floating_point:
        targets = targets.argmax(dim=1)
    acc = int((logits.argmax(dim=1) == targets).sum()) / len(targets) if len(targets) else float("nan")
    vloss = float(F.cross_entropy(logits, targets)) if len(targets) else float("nan")
    return {"val_accuracy": acc, "val_loss": vloss}


@torch.no_grad()
def _logits(model: nn.Module, dataset: Any, batch_size: int, device: torch.device,
            num_workers: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    was_training = model.training
    model.eval()
    out, tgt = [], []
    try:
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                                             collate_fn=getattr(dataset, "collate", None))
        for x, target, _ in loader:
            out.append(eval_logits(model, x.to(device)).float().cpu())
            tgt.append(target)
    finally:
        model.train(was_training)
    if not out:
        return torch.zeros(0, 0), torch.zeros(0, dtype=torch.int64)
    return torch.cat(out), torch.cat(tgt)


def _as_dataset(data: Any, img_size: int) -> Any:
    if isinstance(data, Split):
        # every row, whatever its truth: dummy targets of 0
        return make_dataset(data, np.zeros(len(data), dtype=np.int64), img_size=img_size)
    return data


def predict_proba(model: nn.Module, data: Split | TaskDataset, *, batch_size: int = 256,
                  device: str | torch.device | None = None, img_size: int = 224) -> np.ndarray:
    """Softmax of the class logits (:func:`eval_logits`, eval mode, no gradient).

    Parameters
    ----------
    model : nn.Module
    data : Split or TaskDataset
        A :class:`~crowdwise.learn.data.Split` gives one row per row of the split; a
        data set one row per item (``dataset.rows`` tells which split rows).
    batch_size : int
    device : optional
        Default: the device of the model's first parameter.
    img_size : int
        Image side, for a Split of images.

    Returns
    -------
    ndarray of float64, shape (n, K)
    """
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    logits, _ = _logits(model, _as_dataset(data, img_size), batch_size, torch.device(device))
    return torch.softmax(logits.double(), dim=1).numpy()


def evaluate(model: nn.Module, split: Split, *, ks: Sequence[int] = (3, 5), n_bins: int = DEFAULT_N_BINS,
             prefix: str = "test_", batch_size: int = 256, img_size: int = 224,
             device: str | torch.device | None = None) -> tuple[dict[str, Any], np.ndarray]:
    """Score the model on a split with known truth.

    Returns
    -------
    metrics : dict
        :func:`crowdwise.learn.metrics.classification_report`: ``{prefix}accuracy``,
        ``{prefix}ece`` (``n_bins`` equal-width bins), ``{prefix}top{k}_accuracy`` for
        each k < K, ``{prefix}n`` (rows with known truth).
    proba : ndarray, shape (len(split), K)
        The predicted probabilities of every row.
    """
    if not split.has_truth:
        raise InputError(f"the {split.name} split has no known true class", fix=f"give the {split.name} truth")
    proba = predict_proba(model, split, batch_size=batch_size, img_size=img_size, device=device)
    return classification_report(split.truth, proba, ks=tuple(ks), n_bins=n_bins, prefix=prefix), proba
