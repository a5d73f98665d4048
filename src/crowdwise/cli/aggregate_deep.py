"""`crowdwise aggregate-deep`: learn a classifier end to end from the votes (crowd layers).

Its options (items, model, training loop) are shared with `crowdwise identify` and
`crowdwise train` through :mod:`crowdwise.cli._options`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ._options import (BatchSize, Device, Dropout, Duplicates, Epochs, FeaturesTest, FeaturesTrain, FeaturesVal,
                       Hidden, ImgSize, Lr, Milestones, Model, Momentum, Optim, Quiet, Scheduler, Seed, Standardize,
                       Strict, TestTruth, Threads, TrainTruth, ValTruth, WeightDecay, Weights, load_learning_data,
                       make_config, model_options)

# --------------------------------------------------------------------------- the verb
def command(
    dataset: Annotated[Path, typer.Argument(help="A peerannot folder (answers.json + metadata.json, images in "
                                                 "train/ val/ test/) or a votes file (CSV/Parquet/answers.json).")],
    strategy: Annotated[str, typer.Option("--strategy", "-s", help="CrowdLayer, 'CoNAL\\[scale=1e-4]', "
                                          "'GeoCrowdNet-F\\[lambda=0.01]', 'GeoCrowdNet-W\\[lambda=0.01]', CoupledCE.")]
    = "CrowdLayer",
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", file_okay=False, help="Output folder (labels/, "
                       "models/, confusions/, results/ inside). Default: the data-set folder, like peerannot.")] = None,
    old_output: Annotated[Optional[Path], typer.Option("--output", "-o", file_okay=False, hidden=True)] = None,
    features_train: FeaturesTrain = None, features_val: FeaturesVal = None, features_test: FeaturesTest = None,
    train_truth: TrainTruth = None, val_truth: ValTruth = None, test_truth: TestTruth = None,
    standardize: Standardize = False,
    model: Model = "mlp", hidden: Hidden = "128", dropout: Dropout = 0.0, weights: Weights = None,
    epochs: Epochs = 50, batch_size: BatchSize = 64, optimizer: Optim = "adam", lr: Lr = 1e-3,
    momentum: Momentum = 0.9, weight_decay: WeightDecay = 0.0, scheduler: Scheduler = "none",
    milestones: Milestones = None, head_lr: Annotated[Optional[float], typer.Option(
        "--head-lr", help="Learning rate of the crowd layer (default: --lr).")] = None,
    seed: Seed = 0, device: Device = None, img_size: ImgSize = 224, threads: Threads = None,
    duplicates: Duplicates = "keep", strict: Strict = False, quiet: Quiet = False,
) -> None:
    """Train a classifier end to end from the votes of DATASET through a crowd layer.

    Strategies: CrowdLayer (per-worker matrix weights, Rodrigues & Pereira 2018), CoNAL (global + per-worker confusions, Chu et al. 2021; scale = regulariser), GeoCrowdNet-F / GeoCrowdNet-W (coupled cross-entropy with -lambda log det of F F^T or W^T W, Ibrahim et al. 2023), CoupledCE (lambda = 0).

    Writes labels/labels_<data>_<strategy>.npy (the classifier's soft labels on the training tasks, (n_tasks, K)) and .csv keyed by the task ids, models/<data>_<strategy>.pth (classifier state dict, loadable with --weights), confusions/confusions_<data>_<strategy>.npy ((n_workers, K, K), rows = true class) and results/<data>_<strategy>.json (test_accuracy, test_ece, top-k accuracy when the test split has truth).
    """  # noqa: E501 (one line per paragraph: the help formatter keeps line breaks)
    import json

    import numpy as np

    from .. import io
    from ..errors import InputError
    from ..learn import require_torch
    from ..learn.crowd_layers import parse_crowd_spec
    from ..io import output_stem
    from ..io import check_output_path, output_set, safe_name
    from ._common import console, input_files, load_dataset_votes, progress, resolve_dataset
    from ._options import pick_folder

    output = pick_folder("aggregate-deep", out_dir, old_output, "-o/--output")
    require_torch()
    parse_crowd_spec(strategy)  # a bad spec fails before anything is read
    cfg = make_config(epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr, momentum=momentum,
                      weight_decay=weight_decay, scheduler=scheduler, milestones=milestones, seed=seed,
                      device=device, threads=threads)
    if head_lr is not None and not head_lr > 0:
        raise InputError(f"--head-lr {head_lr} must be > 0", fix="give a positive learning rate, e.g. 0.01")
    dataset, folder = resolve_dataset(dataset)
    out = output or folder
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder", source=out, fix="give --out-dir a folder")
    with progress(f"reading {dataset}", quiet=quiet):
        votes = load_dataset_votes(dataset, duplicates=duplicates, strict=strict)
        data = load_learning_data(dataset, votes, features_train=features_train, features_val=features_val,
                                  features_test=features_test, train_truth=train_truth, val_truth=val_truth,
                                  test_truth=test_truth)
        if standardize:
            from ..learn.data import standardize as scale

            data = scale(data)[0]

    # output paths planned (and checked) before the training: a data-set name is reduced to a safe file name
    name = safe_name(votes.name or dataset.stem)
    stem = f"{name}_{output_stem(strategy)}"
    labels_dir, models_dir, conf_dir, res_dir = (out / d for d in ("labels", "models", "confusions", "results"))
    npy, csv = labels_dir / f"labels_{stem}.npy", labels_dir / f"labels_{stem}.csv"
    pth, conf = models_dir / f"{stem}.pth", conf_dir / f"confusions_{stem}.npy"
    js = res_dir / f"{stem}.json"
    inputs = input_files(dataset, features_train, features_val, features_test, train_truth, val_truth, test_truth)
    for p in (npy, csv, pth, conf, js):
        check_output_path(p, inputs)

    import torch

    from ..learn.crowd_layers import fit_crowd_layer

    res = fit_crowd_layer(votes, data, strategy, model=model, model_options=model_options(hidden, dropout, weights),
                          config=cfg, head_lr=head_lr, img_size=img_size,
                          progress=False if quiet else f"{strategy} on {votes.n_votes:,} votes")
    from ..utils import argmax_ties

    hard = argmax_ties(res.soft_labels, random_state=seed)
    report: dict[str, Any] = {"strategy": strategy, "model": model, "data": votes.name or dataset.stem,
                              **{k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                                 for k, v in res.metrics.items()},
                              "best_epoch": res.best_epoch, "train_seconds": round(res.seconds, 3),
                              "config": cfg.to_dict(), "history": res.history}
    if data.train.has_truth:
        known = data.train.truth >= 0
        report["train_label_accuracy"] = float((hard[known] == data.train.truth[known]).mean())
    with output_set(inputs):
        io.save_npy(npy, res.soft_labels)
        io.write_labels_table(csv, votes, hard, probas=res.soft_labels)
        with io.atomic_write(pth, "wb") as f:
            torch.save({k: v.detach().cpu() for k, v in res.model.classifier.state_dict().items()}, f)
        io.save_npy(conf, res.confusions)
        with io.atomic_write(js) as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    written = [npy, csv, pth, conf, js]
    if quiet:
        return
    console.print(f"{votes!r}, {data!r}")
    console.print(f"{strategy}: best epoch {res.best_epoch} of {cfg.epochs}, {res.seconds:.1f} s")
    for key in ("test_accuracy", "test_ece", "train_label_accuracy"):
        if key in report and report[key] is not None:
            console.print(f"  {key}: [bold]{report[key]:.4f}[/]")
    for p in written:
        console.print(f"wrote {p}")
