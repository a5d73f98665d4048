"""Tiny generated data sets for the learning tests: coloured-square images in the
peerannot folder layout, and separable feature matrices, each with a simulated crowd.

Import with ``from learn._tiny import ...`` (``tests`` is on ``sys.path``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

#: class name -> RGB colour of its square
COLOURS = {"blue": (30, 60, 220), "green": (30, 200, 60), "red": (220, 40, 30)}


def _votes(truth: np.ndarray, task_ids: list, n_classes: int, *, n_workers: int, accuracy: float,
           rng: np.random.Generator, class_names: list | None = None) -> pd.DataFrame:
    """Every worker votes on every task: right with probability ``accuracy``, else a
    uniformly drawn wrong class."""
    n = truth.size
    task = np.repeat(np.arange(n), n_workers)
    worker = np.tile(np.arange(n_workers), n)
    right = rng.random(task.size) < accuracy
    wrong = (truth[task] + rng.integers(1, n_classes, task.size)) % n_classes
    label = np.where(right, truth[task], wrong)
    names = class_names if class_names is not None else list(range(n_classes))
    return pd.DataFrame({"task": np.asarray(task_ids, dtype=object)[task], "worker": [f"w{w}" for w in worker],
                         "label": np.asarray(names, dtype=object)[label]})


def make_image_dataset(root: Path, *, n_train: int = 12, n_val: int = 6, n_test: int = 9, size: int = 8,
                       n_workers: int = 3, accuracy: float = 0.8, seed: int = 0) -> dict:
    """Write ``root/train/<colour>/sq-<task>.png`` (task ids 0..n_train-1, written in
    shuffled order), ``val/``, ``test/`` and ``votes.csv`` (class values are colour
    names). Each image is grey noise with a square of its class colour.

    Returns a dict with ``truth`` (train truth by task id), ``classes`` (sorted names).
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    classes = sorted(COLOURS)
    k = len(classes)

    def write(split: str, n: int, named: bool) -> np.ndarray:
        truth = np.arange(n) % k
        for i in rng.permutation(n):
            img = rng.integers(90, 160, size=(size, size, 3)).astype(np.uint8)
            a = rng.integers(0, size // 2)
            b = rng.integers(0, size // 2)
            img[a:a + size // 2, b:b + size // 2] = COLOURS[classes[truth[i]]]
            folder = root / split / classes[truth[i]]
            folder.mkdir(parents=True, exist_ok=True)
            name = f"sq-{i}.png" if named else f"img{i}.png"
            Image.fromarray(img).save(folder / name)
        return truth

    truth = write("train", n_train, True)
    if n_val:
        write("val", n_val, False)
    if n_test:
        write("test", n_test, False)
    _votes(truth, list(range(n_train)), k, n_workers=n_workers, accuracy=accuracy, rng=rng,
           class_names=classes).to_csv(root / "votes.csv", index=False)
    return {"truth": truth, "classes": classes}


def separable_features(n: int, *, d: int = 5, k: int = 3, seed: int = 0, spread: float = 0.3
                       ) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)``: k Gaussian blobs of standard deviation ``spread`` around well apart
    centres (distance >= 4), float32 features, int64 classes ``0..k-1`` in turn."""
    rng = np.random.default_rng(seed)
    centres = np.zeros((k, d))
    centres[np.arange(k), np.arange(k) % d] = 4.0
    y = np.arange(n) % k
    x = centres[y] + spread * rng.normal(size=(n, d))
    return x.astype(np.float32), y.astype(np.int64)


def make_feature_dataset(root: Path, *, n_train: int = 120, n_val: int = 60, n_test: int = 90, d: int = 5,
                         k: int = 3, n_workers: int = 5, accuracy: float = 0.7, seed: int = 0) -> dict:
    """Write ``train.npy`` (row i = task i), ``val.npy`` / ``val_truth.txt``, ``test.npy``
    / ``test_truth.txt``, ``train_truth.txt`` and ``votes.csv`` (integer classes).

    Returns a dict with the arrays (``x_train``, ``y_train``, ``x_test``, ``y_test``...).
    """
    root.mkdir(parents=True, exist_ok=True)
    x, y = separable_features(n_train + n_val + n_test, d=d, k=k, seed=seed)
    parts = {"train": slice(0, n_train), "val": slice(n_train, n_train + n_val),
             "test": slice(n_train + n_val, None)}
    out = {}
    for name, sl in parts.items():
        np.save(root / f"{name}.npy", x[sl])
        np.savetxt(root / f"{name}_truth.txt", y[sl], fmt="%d")
        out[f"x_{name}"], out[f"y_{name}"] = x[sl], y[sl]
    rng = np.random.default_rng(seed + 1)
    _votes(y[parts["train"]], list(range(n_train)), k, n_workers=n_workers, accuracy=accuracy,
           rng=rng).to_csv(root / "votes.csv", index=False)
    return out
