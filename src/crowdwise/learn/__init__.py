"""Learning from crowds with PyTorch (``pip install "crowdwise[deep]"``).

Importing ``crowdwise.learn`` does not import torch: the sub-modules ``data`` (torch only
inside :func:`~crowdwise.learn.data.make_dataset`), ``models`` and ``train`` do, and
``metrics`` never does.

The API other parts build on
----------------------------

**Data** (:mod:`crowdwise.learn.data`)

- ``load_task_data(root, votes, *, features_train=None, features_val=None,
  features_test=None, train_truth=None, val_truth=None, test_truth=None, id_column=None,
  label_column=None, classes=None) -> TaskData``: feature matrices when
  ``features_train`` is given, else the image folder ``root`` (peerannot layout
  ``train/<class>/<name>-<task>.<ext>``, ``val/``, ``test/``).
- ``load_image_folder(root, votes=None, *, classes=None)``,
  ``load_features(train, *, votes=None, val=None, test=None, train_truth=None,
  val_truth=None, test_truth=None, classes=None, id_column=None, label_column=None)``.
- ``TaskData(train, val, test, classes, kind)``: ``train`` rows are aligned with
  ``votes.task_ids`` (row i = task i of the votes); ``n_classes``, ``n_features``.
- ``Split(name, task_ids, truth, features=None, paths=None)``: ``truth`` int64, -1 unknown.
- ``make_dataset(split, targets=None, *, augment=False, img_size=224, transform=None)
  -> TaskDataset`` of items ``(x, target, index)``; ``targets`` hard ``(n,)`` (-1 rows
  left out) or soft ``(n, K)``; default the truth. ``index`` = row of the split = task
  index in the votes; ``dataset.rows`` lists the rows kept. Feature batches are fetched
  whole (``__getitems__``; pass ``collate_fn=dataset.collate`` to your own DataLoader).
- ``load_labels(path, votes)``: the targets ``crowdwise aggregate`` wrote (``.npy`` hard
  or soft, ``_probas.npz``, CSV/Parquet keyed by task ids), aligned with the votes.
- ``standardize(data) -> (data, mean, sd)``: features scaled by training statistics.

**Models** (:mod:`crowdwise.learn.models`)

- ``build_model(name, n_classes, *, n_features=None, weights=None, hidden=(128,),
  dropout=0.0, freeze_backbone=False, small_images=False, seed=None) -> Classifier``
  with ``name`` in ``mlp``, ``labelme``, ``resnet18``, ``resnet34``, ``resnet50``,
  ``vgg16_bn``; ``weights`` a local state-dict file (crowdwise or torchvision format).
- ``Classifier``: ``backbone`` (x -> embedding), ``head`` (``nn.Linear(n_embed,
  n_classes)``), ``embed(x)``, ``forward(x)`` = logits, ``n_embed``, ``n_classes``,
  ``freeze_backbone()``.
- ``load_weights(model, path)``, ``default_device()``.

**Training** (:mod:`crowdwise.learn.train`)

- ``fit(model, train_set, *, config=None, val_set=None, loss=None, callbacks=(),
  params=None, progress=False) -> FitResult(model, history, best_epoch, best_state,
  seconds)``. Best epoch: highest validation accuracy, ties to the lower validation
  loss (or ``select="val_loss"``); the last epoch without a validation set.
- ``TrainConfig(epochs=50, batch_size=64, optimizer="sgd", lr=0.01, momentum=0.9,
  weight_decay=5e-4, scheduler="multistep", milestones=None, gamma=0.1, seed=0,
  device=None, num_workers=0, select="val_accuracy", eval_batch_size=256, threads=None)``.
- Loss protocol: ``loss(output, target, index) -> scalar``; default
  ``cross_entropy`` (hard or soft targets).
- Model output protocol: ``model(x)`` returns logits, or a tuple / dict holding them
  (``class_logits``); wrappers may define ``predict_logits(x)`` for evaluation
  (``eval_logits``).
- ``Callback`` hooks: ``on_train_begin(state)``, ``on_batch_end(state, batch)`` with
  ``batch.logits`` (detached, per example), ``batch.index``, ``batch.target``,
  ``batch.loss``; ``on_epoch_end(state)``; ``on_train_end(state)``. ``TrainState`` has
  ``model``, ``optimizer``, ``config``, ``epoch`` (0-based), ``history``, ``stop``.
- ``predict_proba(model, split_or_dataset, ...) -> (n, K)``;
  ``evaluate(model, split, ks=(3, 5), n_bins=15, prefix="test_") -> (metrics, proba)``.

**Metrics** (:mod:`crowdwise.learn.metrics`, NumPy only)

- ``accuracy``, ``top_k_accuracy``, ``expected_calibration_error`` (15 equal-width bins),
  ``reliability_data`` (``ReliabilityData``), ``classification_report``.
- The figure: :func:`crowdwise.plots.reliability.plot_reliability`.

Example
-------
>>> import numpy as np
>>> from crowdwise.learn.data import Split, TaskData, make_dataset
>>> from crowdwise.learn.models import build_model
>>> from crowdwise.learn.train import TrainConfig, evaluate, fit
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(300, 4)).astype(np.float32)
>>> y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
>>> data = TaskData(Split("train", np.arange(200), y[:200], features=x[:200]), None,
...                 Split("test", np.arange(100), y[200:], features=x[200:]), np.array([0, 1]))
>>> model = build_model("mlp", 2, n_features=4, hidden=(16,), seed=0)
>>> res = fit(model, make_dataset(data.train, y[:200]),
...           config=TrainConfig(epochs=30, lr=0.1, device="cpu", threads=1))
>>> metrics, proba = evaluate(res.model, data.test)
>>> metrics["test_accuracy"] > 0.9
True
"""

from __future__ import annotations

__all__ = ["data", "models", "train", "metrics", "require_torch", "INSTALL_HINT"]

INSTALL_HINT = 'pip install "crowdwise[deep]"'


def require_torch() -> None:
    """Raise an :class:`~crowdwise.errors.InputError` with the install command when
    PyTorch (or torchvision) is missing."""
    from ..errors import InputError

    missing = []
    for mod in ("torch", "torchvision"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        raise InputError(f"learning from crowds needs {' and '.join(missing)}, which "
                         f"{'is' if len(missing) == 1 else 'are'} not installed", fix=f"install it with {INSTALL_HINT}")


def __getattr__(name: str):
    if name in ("data", "models", "train", "metrics"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
