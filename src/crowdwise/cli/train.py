"""`crowdwise train`: train a classifier on aggregated labels (hard or soft) and test it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ._options import (BatchSize, Device, Dropout, Epochs, FeaturesTest, FeaturesTrain, FeaturesVal, Hidden,
                       ImgSize, Lr, Milestones, Momentum, Optim, Quiet, Scheduler, Standardize, WeightDecay, Weights,
                       parse_ints)


def command(
    dataset: Annotated[Path, typer.Argument(help="The crowd data set: a peerannot folder (answers.json), a folder "
                                                 "with votes.csv, or a votes file. Its train/ val/ test/ image "
                                                 "folders are the items unless --features-train is given.")],
    labels: Annotated[str, typer.Option("--labels", "-l", help="Training labels: the .npy `crowdwise aggregate` "
                                        "wrote (hard (n,) with -1 = none, or soft (n, K)), its _probas.npz, its "
                                        "CSV/Parquet keyed by task ids, or 'gold' for the true training classes "
                                        "(the upper bound).")],
    model: Annotated[str, typer.Option("--model", "-m", help="mlp or labelme for features; resnet18, resnet34, "
                                       "resnet50, vgg16_bn or labelme for images.")] = "mlp",
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", help="Output folder (results.json, model.pt, "
                                                    "reliability.png, test_proba.npy). Default: "
                                                    "DATASET/results/train_<labels>_<model>.")] = None,
    old_output: Annotated[Optional[Path], typer.Option("--output", "-o", hidden=True)] = None,
    features_train: FeaturesTrain = None,
    features_val: FeaturesVal = None,
    features_test: FeaturesTest = None,
    train_truth: Annotated[Optional[Path], typer.Option("--train-truth", help="True training classes: one class "
                                                        "index per line (.txt) or .npy, or a task,label table. "
                                                        "Default for --labels gold: the features' class column, "
                                                        "else the data set's truth.csv / ground_truth.npy.")] = None,
    val_truth: Annotated[Optional[Path], typer.Option("--val-truth", help="True validation classes (same "
                                                      "formats).")] = None,
    test_truth: Annotated[Optional[Path], typer.Option("--test-truth", help="True test classes (same "
                                                       "formats).")] = None,
    id_column: Annotated[Optional[str], typer.Option("--id-column", help="Id column of feature tables "
                                                     "(default id or task).")] = None,
    label_column: Annotated[Optional[str], typer.Option("--label-column", help="True-class column of feature "
                                                        "tables (default class, label or truth).")] = None,
    standardize: Standardize = False,
    hidden: Hidden = "128",
    dropout: Dropout = 0.0,
    weights: Weights = None,
    freeze_backbone: Annotated[bool, typer.Option("--freeze-backbone", help="Train the last layer only.")] = False,
    small_images: Annotated[bool, typer.Option("--small-images", help="ResNets: CIFAR stem (3x3 conv, no max "
                                               "pool) for images of about 32 pixels.")] = False,
    img_size: ImgSize = 224,
    augment: Annotated[bool, typer.Option("--augment/--no-augment", help="Random crop and flip of training "
                                          "images.")] = False,
    epochs: Epochs = 50,
    batch_size: BatchSize = 64,
    optimizer: Optim = "sgd",
    lr: Lr = 0.01,
    momentum: Momentum = 0.9,
    weight_decay: WeightDecay = 5e-4,
    scheduler: Scheduler = "multistep",
    milestones: Milestones = None,
    gamma: Annotated[float, typer.Option("--gamma", help="Multistep factor.")] = 0.1,
    select: Annotated[str, typer.Option("--select", help="Best epoch on the validation set by val_accuracy or "
                                        "val_loss.")] = "val_accuracy",
    top_k: Annotated[str, typer.Option("--top-k", help="k of the top-k test accuracies (each k < K is "
                                       "reported).")] = "3,5",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the initial weights, shuffling, dropout and "
                                      "augmentation.")] = 0,
    device: Device = None,
    num_workers: Annotated[int, typer.Option("--num-workers", help="Data-loading processes (images).")] = 0,
    threads: Annotated[Optional[int], typer.Option("--threads", help="CPU threads of torch. Default: 1 for "
                                                   "feature matrices (small models run many times faster on one "
                                                   "thread), torch's default for images.")] = None,
    quiet: Quiet = False,
) -> None:
    """Train a classifier on the labels of DATASET's tasks and score it on the test set.

    The items are image folders (train/<class>/<name>-<task>.<ext>, val/, test/) or
    feature matrices (--features-train/-val/-test). Training rows are aligned with the
    tasks of the votes, so the labels `crowdwise aggregate` wrote are used as they are;
    tasks without a label (-1) are skipped. With a validation set, the weights of the
    best epoch are kept. Writes results.json (test_accuracy, test_ece with 15 bins,
    top-k accuracies, settings, history), model.pt (the kept state dict),
    reliability.png and test_proba.npy.
    """
    from ..learn import require_torch

    require_torch()
    import json
    import time

    import torch

    from .. import __version__, io
    from ..errors import InputError
    from ..learn import data as ld
    from ..learn.metrics import reliability_data
    from ..learn.models import build_model, default_device
    from ..learn.train import TrainConfig, evaluate, fit
    from ..io import check_output_path, output_set, safe_name
    from ._common import console, input_files, load_dataset_votes, progress, resolve_dataset
    from ._options import pick_folder

    output = pick_folder("train", out_dir, old_output, "-o/--output")
    if img_size < 1:
        raise InputError(f"--img-size must be >= 1, got {img_size}", fix="e.g. --img-size 224")
    hidden_sizes = parse_ints(hidden, "--hidden")
    ks = parse_ints(top_k, "--top-k")
    if any(k < 1 for k in ks):
        raise InputError(f"--top-k values must be >= 1, got {top_k!r}", fix="e.g. --top-k 3,5")
    config_args = dict(epochs=epochs, batch_size=batch_size, optimizer=optimizer.lower(), lr=lr, momentum=momentum,
                       weight_decay=weight_decay, scheduler=scheduler.lower(),
                       milestones=parse_ints(milestones, "--milestones"), gamma=gamma, seed=seed, device=device,
                       num_workers=num_workers, select=select)
    TrainConfig(**config_args, threads=threads)  # bad settings fail before any reading
    gold = labels.strip().lower() == "gold"
    labels_path = None if gold else Path(labels)
    if labels_path is not None and not labels_path.exists():
        raise InputError("labels file not found", source=labels_path,
                         fix="pass the .npy / .csv written by `crowdwise aggregate`, or --labels gold")
    if weights is not None and not weights.is_file():
        raise InputError("no such weights file", source=weights, fix="pass a local state-dict file")

    dataset, out_base = resolve_dataset(dataset)  # a registered name: read from the cache, write here
    folder = dataset if dataset.is_dir() else dataset.parent
    with progress(f"reading {dataset}", quiet=quiet):
        votes = load_dataset_votes(dataset)
        data = ld.load_task_data(folder, votes, features_train=features_train, features_val=features_val,
                                 features_test=features_test, train_truth=train_truth, val_truth=val_truth,
                                 test_truth=test_truth, id_column=id_column, label_column=label_column)
        if standardize:
            data = ld.standardize(data)[0]
        if gold:
            targets = data.train.truth
            source = "the training items' classes"
            if not data.train.has_truth:
                truth_file = next((folder / f for f in ("ground_truth.npy", "truth.csv") if (folder / f).exists()),
                                  None)
                if truth_file is None:
                    raise InputError("--labels gold needs the true training classes", source=dataset,
                                     fix="give --train-truth FILE (or a truth.csv / ground_truth.npy in the folder)")
                targets = io.load_truth(truth_file, votes)
                source = str(truth_file)
        else:
            targets = ld.load_labels(labels_path, votes)
            source = str(labels_path)
        if targets.ndim == 2 and targets.shape[1] != data.n_classes:
            raise InputError(f"soft labels have {targets.shape[1]} columns for {data.n_classes} classes",
                             source=source, fix="use labels aggregated from these votes")
        train_set = ld.make_dataset(data.train, targets, augment=augment, img_size=img_size)
        val_set = ld.make_dataset(data.val, img_size=img_size) if data.val is not None and data.val.has_truth \
            else None

    if threads is None and data.kind == "features":
        threads = 1
    config = TrainConfig(**config_args, threads=threads)
    net = build_model(model, data.n_classes, n_features=data.n_features, weights=weights,
                      hidden=hidden_sizes if model.lower() == "mlp" else (128,), dropout=dropout,
                      freeze_backbone=freeze_backbone, small_images=small_images, seed=seed)
    stem = "gold" if gold else safe_name(labels_path.stem.removeprefix("labels_"))
    out_dir = output or out_base / "results" / f"train_{stem}_{safe_name(model.lower())}"
    inputs = input_files(dataset, labels_path, features_train, features_val, features_test, train_truth, val_truth,
                         test_truth, weights)
    for name in ("model.pt", "test_proba.npy", "reliability.png", "results.json"):
        check_output_path(out_dir / name, inputs)
    io.make_dir(out_dir)

    t0 = time.perf_counter()
    res = fit(net, train_set, config=config, val_set=val_set,
              progress=False if quiet else f"{model} on {len(train_set):,} labelled tasks")
    seconds = time.perf_counter() - t0
    dev = torch.device(device) if device else default_device()

    results: dict = {}
    proba = None
    if data.test is not None and data.test.has_truth:
        metrics, proba = evaluate(res.model, data.test, ks=ks, img_size=img_size, device=dev)
        results.update(metrics)
    best = res.history[res.best_epoch - 1]
    if "val_accuracy" in best:
        results["val_accuracy"] = best["val_accuracy"]
    settings = {
        "dataset": str(dataset), "labels": "gold" if gold else str(labels_path), "labels_source": source,
        "targets": "soft" if train_set.soft else "hard", "model": model.lower(), "kind": data.kind,
        "hidden": list(hidden_sizes) if model.lower() == "mlp" else None, "dropout": dropout,
        "weights": None if weights is None else str(weights), "freeze_backbone": freeze_backbone,
        "small_images": small_images, "img_size": img_size if data.kind == "images" else None,
        "augment": augment, "standardize": standardize,
        "features": {k: (None if v is None else str(v)) for k, v in
                     (("train", features_train), ("val", features_val), ("test", features_test))},
        **config.to_dict(),
    }
    results.update({
        "best_epoch": res.best_epoch, "n_train": len(train_set), "n_tasks": votes.n_tasks,
        "n_val": 0 if val_set is None else len(val_set), "n_classes": data.n_classes,
        "classes": [c.item() if hasattr(c, "item") else c for c in data.classes],
        "train_seconds": round(seconds, 3), "settings": settings, "history": res.history,
        "crowdwise_version": __version__,
    })
    with output_set(inputs):
        written = []
        model_file = out_dir / "model.pt"
        with io.atomic_write(model_file, "wb") as f:
            torch.save(res.best_state, f)
        written.append(model_file)
        if proba is not None:
            rel = reliability_data(data.test.truth, proba)
            results["reliability"] = rel.to_dict()
            io.save_npy(out_dir / "test_proba.npy", proba)
            written.append(out_dir / "test_proba.npy")
            try:
                from ..plots.reliability import save_reliability

                written.append(save_reliability(out_dir / "reliability.png", rel,
                                                title=f"{model} on {'gold' if gold else stem}"))
            except InputError as exc:  # matplotlib missing: the results still count
                if not quiet:
                    console.print(f"[yellow]no reliability diagram[/]: {exc}")
        res_file = out_dir / "results.json"
        with io.atomic_write(res_file, "w") as f:
            f.write(json.dumps(results, indent=2, allow_nan=False, default=_json_default))
        written.insert(0, res_file)
    if quiet:
        return
    line = f"[bold]{model}[/] on {len(train_set):,} labelled tasks ({settings['targets']} labels), " \
           f"{len(res.history)} epochs in {seconds:.1f} s, best epoch {res.best_epoch}"
    console.print(line)
    if "test_accuracy" in results:
        console.print(f"test accuracy {results['test_accuracy']:.4f}, ECE {results['test_ece']:.4f} "
                      f"on {results['test_n']:,} test items")
    else:
        console.print("no test set with known classes: nothing scored")
    for p in written:
        console.print(f"wrote {p}")


def _json_default(x):
    import numpy as np

    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")
