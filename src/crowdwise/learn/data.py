"""Task data for learning from crowds: torch data sets over the items of a crowd data set.

The items (image folders or feature matrices, one interface) are read by
:mod:`crowdwise.io.features` (NumPy only, no torch): a :class:`Split` per part (train,
val, test) in a :class:`TaskData`, row ``i`` of the training split being task
``votes.task_ids[i]``, so that the labels a strategy wrote (``labels_<data>_<strategy>.npy``,
one row per task) can be used as training targets as they are. Its readers are
available here under the names the learning code has always used::

    from crowdwise import io
    from crowdwise.learn.data import load_features, make_dataset
    F = "../shared/datasets/labelme/features/"
    votes = io.load_votes("../shared/datasets/labelme")
    data = load_features(F + "LabelMe_VGG_avg_train.npy", votes=votes,
                         val=F + "LabelMe_VGG_avg_valid.npy", val_truth=F + "LabelMe_Z_valid.txt",
                         test=F + "LabelMe_VGG_avg_test.npy", test_truth=F + "LabelMe_Z_test.txt",
                         train_truth=F + "LabelMe_Z_train.txt")
    train_set = make_dataset(data.train, data.train.truth)

- :func:`load_image_folder`, :func:`load_features`, :func:`load_task_data`: see
  :mod:`crowdwise.io.features` for the folder layout and the file formats;
- :func:`load_labels` (:func:`crowdwise.io.features.read_targets`): hard or soft
  training targets from a label file ``crowdwise aggregate`` wrote.

This module adds what needs torch: :func:`make_dataset` wraps a split (and optional
training targets) as a ``torch.utils.data.Dataset`` whose items are
``(x, target, index)``, ``index`` being the row in the split (= the task index in the
votes for the training split): crowd layers use it to fetch the votes of a batch, AUM to
record margins per task. :func:`standardize` scales feature matrices with the training
statistics; :func:`image_transform` is the torchvision transform of every image.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ..io.features import (IMAGE_EXTENSIONS, Split, TaskData, load_features, load_image_folder, load_task_data,
                           read_targets)

__all__ = ["Split", "TaskData", "TaskDataset", "load_image_folder", "load_features", "load_task_data", "make_dataset",
           "load_labels", "standardize",
           "image_transform", "IMAGE_EXTENSIONS", "IMAGENET_MEAN", "IMAGENET_STD"]

#: normalisation of every image model (torchvision's ImageNet statistics)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: training targets from a label file (the reader lives in :mod:`crowdwise.io.features`)
load_labels = read_targets


# --------------------------------------------------------------------------- scaling
def standardize(data: TaskData) -> tuple[TaskData, np.ndarray, np.ndarray]:
    """Centre and scale every feature with the training mean and standard deviation.

    ``x' = (x - mean_train) / sd_train`` on every split (a constant column is only
    centred). Returns the new data and ``(mean, sd)``.
    """
    if data.kind != "features":
        raise InputError("only feature matrices can be standardised", fix="drop --standardize for images")
    x = data.train.features.astype(np.float64)
    mean = x.mean(axis=0)
    sd = x.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)

    def scaled(s: Split | None) -> Split | None:
        if s is None:
            return None
        f = ((s.features - mean) / sd).astype(np.float32)
        return Split(s.name, s.task_ids, s.truth, features=f)

    return (TaskData(scaled(data.train), scaled(data.val), scaled(data.test), data.classes, kind=data.kind),
            mean, sd)


# --------------------------------------------------------------------------- torch side
def image_transform(img_size: int = 224, *, augment: bool = False):
    """The torchvision transform of every image: resize to ``img_size`` squared, tensor,
    ImageNet normalisation; with ``augment``, a random crop (padding ``img_size // 8``)
    and a random horizontal flip first (the CIFAR recipe used by peerannot)."""
    from torchvision import transforms as T

    steps: list[Any] = [T.Resize((img_size, img_size))]
    if augment:
        steps += [T.RandomCrop(img_size, padding=max(1, img_size // 8)), T.RandomHorizontalFlip()]
    steps += [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    return T.Compose(steps)


class TaskDataset:
    """Items ``(x, target, index)`` of a :class:`Split` (a map-style torch data set).

    ``index`` is the row in the split (the task index in the votes for the training
    split), ``target`` the training target of that row: an int64 class (hard), a float32
    vector summing to 1 (soft), or the true class when made without targets. Rows without
    a target are left out: ``rows`` lists the rows kept, in order, and item ``i`` is row
    ``rows[i]``. Build it with :func:`make_dataset`.
    """

    def __init__(self, split: Split, targets: np.ndarray, rows: np.ndarray, transform: Any = None) -> None:
        import torch

        self.split = split
        self.rows = rows
        self.transform = transform
        self.soft = targets.ndim == 2
        self.targets = torch.as_tensor(targets, dtype=torch.float32 if self.soft else torch.int64)
        self.features = None if split.features is None else torch.from_numpy(split.features)

    def __len__(self) -> int:
        return int(self.rows.size)

    def __getitem__(self, i: int):
        r = int(self.rows[i])
        if self.features is not None:
            x = self.features[r]
        else:
            from PIL import Image

            try:
                with Image.open(self.split.paths[r]) as im:
                    x = self.transform(im.convert("RGB"))
            except OSError as exc:
                raise InputError(f"cannot read the image ({exc})", source=self.split.paths[r],
                                 fix="replace or remove the file") from None
        return x, self.targets[r], r

    def __getitems__(self, items: list[int]):
        """A whole batch at once for feature matrices (one indexing, no per-item
        stacking); images go item by item. Used by torch's DataLoader with
        :meth:`collate`."""
        if self.features is None:
            return [self[i] for i in items]
        import torch

        rows = torch.as_tensor(self.rows[np.asarray(items, dtype=np.int64)])
        return _Batch((self.features[rows], self.targets[rows], rows))

    @staticmethod
    def collate(batch: Any):
        """``collate_fn`` of the DataLoader: a batch fetched whole is passed as it is,
        a list of items is stacked by torch's default collate."""
        if isinstance(batch, _Batch):
            return list(batch)
        from torch.utils.data import default_collate

        return default_collate(batch)

    def __repr__(self) -> str:
        return f"TaskDataset({self.split.name!r}, n={len(self)}, {'soft' if self.soft else 'hard'} targets)"


class _Batch(tuple):
    """``(x, target, index)`` of a whole batch (marks it for :meth:`TaskDataset.collate`)."""


def make_dataset(split: Split, targets: Any = None, *, augment: bool = False, img_size: int = 224,
                 transform: Any = None):
    """A ``torch.utils.data.Dataset`` of ``(x, target, index)`` over a split.

    Parameters
    ----------
    split : Split
    targets : array, optional
        Training targets aligned with the rows of ``split``: hard labels ``(n,)`` (class
        indices, -1 = no label) or soft labels ``(n, K)`` (rows renormalised to sum to 1).
        Rows without a label (-1, or a soft row without positive finite mass) are left
        out. Default: the split's truth (rows of unknown truth left out).
    augment : bool
        Random crop + flip (images only).
    img_size : int
        Side of the square images fed to the network.
    transform : callable, optional
        A torchvision transform replacing the default one (images only).

    Returns
    -------
    TaskDataset
        With attributes ``rows`` (the rows kept, int64) and ``soft``.
    """
    n = len(split)
    if targets is None:
        t = split.truth.astype(np.int64)
    else:
        t = np.asarray(targets)
        if t.ndim not in (1, 2) or t.shape[0] != n:
            raise InputError(f"targets have shape {t.shape}, expected ({n},) or ({n}, K): one per {split.name} row",
                             fix="use the labels computed from the votes of these tasks")
    if t.ndim == 1:
        if t.dtype.kind == "f":
            if not np.all(np.isfinite(t) & (t == np.round(t))):
                raise InputError("hard labels must be integers (-1 = no label)", fix="save class indices")
        elif t.dtype.kind not in "iu":
            raise InputError(f"labels must be class indices, got dtype {t.dtype}", fix="save class indices")
        t = t.astype(np.int64)
        if (t < -1).any():
            i = int(np.argmax(t < -1))
            raise InputError(f"label {t[i]} at row {i} is negative (only -1 means no label)", fix="use -1 for none")
        rows = np.flatnonzero(t >= 0)
    else:
        t = np.asarray(t, dtype=np.float64)
        finite = np.isfinite(t)
        if (finite & (t < 0)).any():
            i = int(np.argwhere(finite & (t < 0))[0, 0])
            raise InputError(f"soft label row {i} has a negative probability", fix="soft labels are probabilities")
        t = np.where(finite, t, 0.0)
        mass = t.sum(axis=1)
        rows = np.flatnonzero(mass > 0)
        t = (t / np.where(mass > 0, mass, 1.0)[:, None]).astype(np.float32)
    tf = None
    if split.kind == "images":
        tf = transform if transform is not None else image_transform(img_size, augment=augment)
    return TaskDataset(split, t, rows.astype(np.int64), tf)
