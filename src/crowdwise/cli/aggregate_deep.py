"""`crowdwise aggregate-deep`: learn a classifier end to end from the votes (crowd layers).

The learning options (items, model, training loop) are defined once here as typer
annotations and reused by the AUM / WAUM methods of `crowdwise identify`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .._constants import DUPLICATES_HELP, STRICT_HELP

# --------------------------------------------------------------------------- shared options
FeaturesTrain = Annotated[Optional[Path], typer.Option(
    "--features-train", help="Feature matrix of the crowd-labelled tasks (.npy: row i = task i of the votes; "
                             "CSV/Parquet: an id column). Default: the images of DATASET/train.")]
FeaturesVal = Annotated[Optional[Path], typer.Option("--features-val", help="Validation features (pick the "
                                                                            "best epoch).")]
FeaturesTest = Annotated[Optional[Path], typer.Option("--features-test", help="Test features (scored).")]
Standardize = Annotated[bool, typer.Option("--standardize/--no-standardize", help="Scale features by the "
                                           "training mean and sd (as train --standardize; e.g. Music).")]
TrainTruth = Annotated[Optional[Path], typer.Option("--train-truth", help="True classes of the training rows "
                                                                          "(.txt one index per line, .npy).")]
ValTruth = Annotated[Optional[Path], typer.Option("--val-truth", help="True classes of the validation rows.")]
TestTruth = Annotated[Optional[Path], typer.Option("--test-truth", help="True classes of the test rows.")]
Model = Annotated[str, typer.Option("--model", "-m", help="mlp, labelme, resnet18, resnet34, resnet50, vgg16_bn.")]
Hidden = Annotated[str, typer.Option("--hidden", help="Hidden layer sizes of mlp, comma-separated ('' = "
                                                      "multinomial logistic regression).")]
Dropout = Annotated[float, typer.Option("--dropout", help="Dropout after each hidden layer of mlp.")]
Weights = Annotated[Optional[Path], typer.Option("--weights", help="Initial weights: a local state-dict file.")]
Epochs = Annotated[int, typer.Option("--epochs", "--n-epochs", "-e", help="Training epochs.")]
BatchSize = Annotated[int, typer.Option("--batch-size", help="Mini-batch size (tasks).")]
Optim = Annotated[str, typer.Option("--optimizer", help="sgd or adam.")]
Lr = Annotated[float, typer.Option("--lr", help="Learning rate.")]
Momentum = Annotated[float, typer.Option("--momentum", help="SGD momentum.")]
WeightDecay = Annotated[float, typer.Option("--weight-decay", help="L2 penalty of the classifier.")]
Scheduler = Annotated[str, typer.Option("--scheduler", help="multistep, cosine or none.")]
Milestones = Annotated[Optional[str], typer.Option("--milestones", help="Epochs of the multistep schedule, "
                                                                        "comma-separated.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the weights, the shuffling and everything random.")]
Device = Annotated[Optional[str], typer.Option("--device", help="cpu, cuda, cuda:1... Default: cuda when "
                                                                "available.")]
ImgSize = Annotated[int, typer.Option("--img-size", help="Side of the square images fed to the network.")]
Threads = Annotated[Optional[int], typer.Option("--threads", help="CPU threads of torch (1 is fastest for small "
                                                                  "models on a busy machine).")]


#: an example value for each option read by parse_ints (shown in its error)
_INT_LIST_EXAMPLES = {"--hidden": "128,64", "--milestones": "30,60", "--top-k": "3,5"}


def parse_ints(text: Optional[str], what: str) -> tuple[int, ...] | None:
    """``"128,64"`` -> ``(128, 64)``; ``""`` -> ``()``; None stays None."""
    from ..errors import InputError

    if text is None:
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        example = _INT_LIST_EXAMPLES.get(what, "1,2")
        raise InputError(f"{what} {text!r} is not a list of integers",
                         fix=f"write e.g. {what} {example}") from None


def load_learning_data(dataset: Path, votes: Any, *, features_train: Optional[Path], features_val: Optional[Path],
                       features_test: Optional[Path], train_truth: Optional[Path], val_truth: Optional[Path],
                       test_truth: Optional[Path]) -> Any:
    """The items of the votes' tasks: feature matrices when given, else image folders."""
    from ..learn import require_torch

    require_torch()
    from ..learn.data import load_task_data

    folder = dataset if dataset.is_dir() else dataset.parent
    return load_task_data(folder, votes, features_train=features_train, features_val=features_val,
                          features_test=features_test, train_truth=train_truth, val_truth=val_truth,
                          test_truth=test_truth)


def make_config(*, epochs: int, batch_size: int, optimizer: str, lr: float, momentum: float, weight_decay: float,
                scheduler: str, milestones: Optional[str], seed: int, device: Optional[str],
                threads: Optional[int]) -> Any:
    """A :class:`crowdwise.learn.train.TrainConfig` from the CLI options."""
    from ..learn.train import TrainConfig

    return TrainConfig(epochs=epochs, batch_size=batch_size, optimizer=optimizer.lower(), lr=lr, momentum=momentum,
                       weight_decay=weight_decay, scheduler=scheduler.lower(),
                       milestones=parse_ints(milestones, "--milestones"), seed=seed, device=device, threads=threads)


def model_options(hidden: str, dropout: float, weights: Optional[Path]) -> dict[str, Any]:
    opts: dict[str, Any] = {"hidden": parse_ints(hidden, "--hidden"), "dropout": dropout}
    if weights is not None:
        opts["weights"] = weights
    return opts


# --------------------------------------------------------------------------- the verb
def command(
    dataset: Annotated[Path, typer.Argument(help="A peerannot folder (answers.json + metadata.json, images in "
                                                 "train/ val/ test/) or a votes file (CSV/Parquet/answers.json).")],
    strategy: Annotated[str, typer.Option("--strategy", "-s", help="CrowdLayer, 'CoNAL\\[scale=1e-4]', "
                                          "'GeoCrowdNet-F\\[lambda=0.01]', 'GeoCrowdNet-W\\[lambda=0.01]', CoupledCE.")]
    = "CrowdLayer",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", file_okay=False, help="Output folder (labels/, "
                      "models/, confusions/, results/ inside). Default: the data-set folder, like peerannot.")] = None,
    features_train: FeaturesTrain = None, features_val: FeaturesVal = None, features_test: FeaturesTest = None,
    train_truth: TrainTruth = None, val_truth: ValTruth = None, test_truth: TestTruth = None,
    standardize: Standardize = False,
    model: Model = "mlp", hidden: Hidden = "128", dropout: Dropout = 0.0, weights: Weights = None,
    epochs: Epochs = 50, batch_size: BatchSize = 64, optimizer: Optim = "adam", lr: Lr = 1e-3,
    momentum: Momentum = 0.9, weight_decay: WeightDecay = 0.0, scheduler: Scheduler = "none",
    milestones: Milestones = None, head_lr: Annotated[Optional[float], typer.Option(
        "--head-lr", help="Learning rate of the crowd layer (default: --lr).")] = None,
    seed: Seed = 0, device: Device = None, img_size: ImgSize = 224, threads: Threads = None,
    duplicates: Annotated[str, typer.Option("--duplicates", help=DUPLICATES_HELP)] = "keep",
    strict: Annotated[bool, typer.Option("--strict", help=STRICT_HELP)] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no summary.")] = False,
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
    from .aggregate import output_stem
    from ..io._output import check_output_path, output_set, safe_name
    from ._common import console, input_files, load_dataset_votes, progress

    require_torch()
    parse_crowd_spec(strategy)  # a bad spec fails before anything is read
    cfg = make_config(epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr, momentum=momentum,
                      weight_decay=weight_decay, scheduler=scheduler, milestones=milestones, seed=seed,
                      device=device, threads=threads)
    if head_lr is not None and not head_lr > 0:
        raise InputError(f"--head-lr {head_lr} must be > 0", fix="give a positive learning rate, e.g. 0.01")
    folder = dataset if dataset.is_dir() else dataset.parent
    out = output or folder
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder", source=out, fix="give -o a folder")
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
    from ..aggregate._base import argmax_ties

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
