"""Options shared by several verbs, and the small helpers that turn them into library objects.

Each option is a typer annotation defined once here (name, flags, help); a verb sets its
own default. Verbs import what they need from this module, never from another verb.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .._constants import DUPLICATES_HELP, STRICT_HELP

Duplicates = Annotated[str, typer.Option("--duplicates", help=DUPLICATES_HELP)]
Strict = Annotated[bool, typer.Option("--strict", help=STRICT_HELP)]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no summary.")]
Columns = Annotated[Optional[str], typer.Option(
    "--columns", help="The columns of a vote table named otherwise than task, worker, label: "
                      "ROLE=COLUMN pairs, comma-separated, e.g. task=item,worker=annotator,label=answer.")]
# peerannot's options for a data-set folder
AnswersFile = Annotated[Optional[str], typer.Option(
    "--answers-file", help="peerannot's option: the answers file of the data-set folder (name inside it, or a "
                           "path), instead of answers.json.")]
MetadataPath = Annotated[Optional[Path], typer.Option(
    "--metadata-path", "--metadata_path", help="peerannot's option: the metadata.json to use instead of the "
                                               "data-set folder's.")]
NClasses = Annotated[Optional[int], typer.Option(
    "--n-classes", "-K", help="peerannot's option: the number of classes (classes 0..K-1); it overrides the "
                              "metadata's, as n_classes= does in Python.")]

# --------------------------------------------------------------------------- learning options
FeaturesTrain = Annotated[Optional[Path], typer.Option(
    "--features-train", help="Feature matrix of the crowd-labelled tasks: .npy (row i = task i of the votes) or "
                             "CSV/Parquet with an id column. Default: the images of DATASET/train.")]
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
Weights = Annotated[Optional[Path], typer.Option("--weights", help="Initial weights: a local state-dict file "
                                                                  "(crowdwise or torchvision format). Nothing is "
                                                                  "downloaded.")]
Epochs = Annotated[int, typer.Option("--epochs", "--n-epochs", "-e", help="Training epochs.")]
BatchSize = Annotated[int, typer.Option("--batch-size", help="Mini-batch size (tasks).")]
Optim = Annotated[str, typer.Option("--optimizer", help="sgd or adam.")]
Lr = Annotated[float, typer.Option("--lr", help="Learning rate.")]
Momentum = Annotated[float, typer.Option("--momentum", help="SGD momentum.")]
WeightDecay = Annotated[float, typer.Option("--weight-decay", help="L2 penalty of the classifier.")]
Scheduler = Annotated[str, typer.Option("--scheduler", help="multistep, cosine or none.")]
Milestones = Annotated[Optional[str], typer.Option("--milestones", help="Epochs of the multistep schedule, "
                                                                        "comma-separated (default: half and three "
                                                                        "quarters of --epochs).")]
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


# --------------------------------------------------------------------------- the -o grammar
def pick_folder(verb: str, given: Optional[Path], old: Optional[Path], old_flags: str,
                new_flag: str = "--out-dir") -> Optional[Path]:
    """The folder named by ``new_flag``, or by this verb's former folder option (``-o``,
    ``--output``, ``--folder``), accepted for one release with a deprecation line: in every
    verb ``-o/--output`` names one output file, and ``--out-dir`` the folder of several."""
    import sys

    from ..errors import InputError

    if old is None:
        return given
    if given is not None:
        raise InputError(f"{old_flags} and {new_flag} both name the output folder", fix=f"give {new_flag} only")
    print(f"warning: {old_flags} of `crowdwise {verb}` is deprecated (it names a folder): use {new_flag}. "
          "In the next release -o names an output file in every verb.", file=sys.stderr)
    return old


def parse_columns(spec: Optional[str]) -> Optional[dict[str, str]]:
    """``--columns task=item,worker=annotator`` as ``{"task": "item", "worker": "annotator"}``."""
    from ..errors import InputError

    if spec is None:
        return None
    out: dict[str, str] = {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        role, sep, column = (x.strip() for x in part.partition("="))
        if not sep or not role or not column:
            raise InputError(f"--columns {spec!r}: {part!r} is not ROLE=COLUMN",
                             fix="write e.g. --columns task=item,worker=annotator,label=answer")
        if role in out:
            raise InputError(f"--columns {spec!r} names the {role} column twice", fix="name each role once")
        out[role] = column
    return out
