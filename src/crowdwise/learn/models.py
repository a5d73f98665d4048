"""Classifiers for learning from crowds, each split into a backbone and a linear head.

Every model built here is a :class:`Classifier`: ``backbone`` maps an input batch to an
embedding of ``n_embed`` columns, ``head`` (an ``nn.Linear(n_embed, n_classes)``) maps
the embedding to class logits. Crowd layers (CrowdLayer, CoNAL, GeoCrowdNet) wrap a
classifier and use ``model.embed(x)`` (CoNAL's auxiliary network reads the embedding)
and ``model(x)`` (the class logits), whatever the architecture.

=============  ==============================================================================
name           architecture
=============  ==============================================================================
``mlp``        features -> [Linear, ReLU, Dropout] x len(hidden) -> Linear (head)
``labelme``    Rodrigues & Pereira (2018): VGG-16 convolutional features -> Dense(128), ReLU,
               Dropout(0.5) -> Dense(K). With ``n_features`` (pre-extracted VGG features, as
               ``LabelMe_VGG_avg_*.npy``) only the dense part: Dense(128), ReLU,
               Dropout(0.5), Dense(K). On images the VGG output is globally average-pooled
               to 512 values, as the LabelMe features are.
``resnet18``   torchvision ResNet-18 / 34 / 50, ``fc`` replaced by the head
``resnet34``
``resnet50``
``vgg16_bn``   torchvision VGG-16 with batch norm; the last classifier layer is the head
=============  ==============================================================================

Weights never come from the internet: ``weights=`` takes a local file holding a state
dict, either saved from a crowdwise model (``torch.save(model.state_dict(), f)``, keys
``backbone.*`` / ``head.*``) or in torchvision's own format (e.g. an ImageNet
checkpoint saved earlier: keys ``conv1.weight``, ..., ``fc.weight``). A head whose shape
differs from ``n_classes`` (ImageNet's 1000 classes) is left freshly initialised; any
other mismatch is an error.

References
----------
.. [1] F. Rodrigues and F. Pereira. "Deep learning from crowds". AAAI 2018.
.. [2] K. He, X. Zhang, S. Ren and J. Sun. "Deep residual learning for image
   recognition". CVPR 2016.
.. [3] K. Simonyan and A. Zisserman. "Very deep convolutional networks for large-scale
   image recognition". ICLR 2015.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from ..errors import InputError

__all__ = ["Classifier", "build_model", "load_weights", "MODEL_NAMES", "FEATURE_MODELS", "IMAGE_MODELS",
           "default_device"]

logger = logging.getLogger("crowdwise.learn")

#: models that read feature vectors
FEATURE_MODELS = ("mlp", "labelme")
#: models that read images (``labelme`` reads both)
IMAGE_MODELS = ("resnet18", "resnet34", "resnet50", "vgg16_bn", "labelme")
#: every name :func:`build_model` accepts
MODEL_NAMES = ("mlp", "labelme", "resnet18", "resnet34", "resnet50", "vgg16_bn")


def default_device() -> torch.device:
    """``cuda`` when a GPU is available, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Classifier(nn.Module):
    """A backbone producing an embedding, and a linear head producing class logits.

    ``forward(x) = head(backbone(x))``.

    Parameters
    ----------
    backbone : nn.Module
        Maps a batch ``x`` to embeddings of shape ``(batch, n_embed)``.
    head : nn.Linear
        ``n_embed -> n_classes``.
    name : str
        The architecture name (``build_model``'s).
    tv_key : callable, optional
        Maps a key of the architecture's torchvision-format state dict to a key of this
        module (``None`` = not used), for :func:`load_weights`.

    Attributes
    ----------
    n_embed, n_classes : int

    Examples
    --------
    >>> m = build_model("mlp", 3, n_features=5, hidden=(8,), seed=0)
    >>> m.embed(torch.zeros(2, 5)).shape, m(torch.zeros(2, 5)).shape
    (torch.Size([2, 8]), torch.Size([2, 3]))
    """

    def __init__(self, backbone: nn.Module, head: nn.Linear, *, name: str,
                 tv_key: Callable[[str], str | None] | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.name = name
        self.n_embed = int(head.in_features)
        self.n_classes = int(head.out_features)
        self._tv_key = tv_key

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding ``(batch, n_embed)`` the head reads."""
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(batch, n_classes)``."""
        return self.head(self.backbone(x))

    def freeze_backbone(self, frozen: bool = True) -> "Classifier":
        """Stop (or restart) training the backbone: only the head learns when frozen."""
        for p in self.backbone.parameters():
            p.requires_grad_(not frozen)
        return self

    def extra_repr(self) -> str:
        return f"name={self.name!r}, n_embed={self.n_embed}, n_classes={self.n_classes}"


def _mlp_layers(n_in: int, hidden: Sequence[int], dropout: float) -> tuple[nn.Module, int]:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(n_in, int(h)), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        n_in = int(h)
    return (nn.Sequential(*layers) if layers else nn.Identity()), n_in


class _VGGFeatures(nn.Module):
    """VGG-16 convolutional layers (torchvision's ``features``) + global average pooling."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import vgg

        # the convolutional part only (building vgg16() would also initialise its 120M
        # classifier weights, to throw them away); same layers and keys as vgg16().features
        self.features = vgg.make_layers(vgg.cfgs["D"], batch_norm=False)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.features(x)), 1)


def _check_int(value: Any, what: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InputError(f"{what} must be an integer >= {low}, got {value!r}", fix=f"pass {what} >= {low}")
    return int(value)


def build_model(name: str, n_classes: int, *, n_features: int | None = None, weights: str | Path | None = None,
                hidden: Sequence[int] = (128,), dropout: float = 0.0, freeze_backbone: bool = False,
                small_images: bool = False, seed: int | None = None) -> Classifier:
    """Build a classifier by name.

    Parameters
    ----------
    name : str
        One of :data:`MODEL_NAMES`: ``mlp``, ``labelme``, ``resnet18``, ``resnet34``,
        ``resnet50``, ``vgg16_bn`` (see the module docstring).
    n_classes : int
        Outputs of the head.
    n_features : int, optional
        Input columns, for feature models (required by ``mlp``; ``labelme`` with
        ``n_features`` is the dense head over pre-extracted VGG features).
    weights : str or Path, optional
        A local state-dict file (see :func:`load_weights`). Nothing is ever downloaded.
    hidden : sequence of int
        Hidden layer sizes of ``mlp`` (``()`` gives multinomial logistic regression).
    dropout : float
        Dropout after each hidden layer of ``mlp``.
    freeze_backbone : bool
        Train only the head (e.g. on top of loaded ImageNet weights).
    small_images : bool
        ResNets only: the CIFAR stem (3x3 first convolution with stride 1, no max pool),
        better for images of 32 pixels or so; incompatible with ImageNet weights' stem.
    seed : int, optional
        Seed of the initial weights (drawn under a forked torch RNG: the global RNG is
        left as it was). None: torch's current global RNG.

    Returns
    -------
    Classifier

    Examples
    --------
    >>> m = build_model("labelme", 8, n_features=512, seed=0)
    >>> m.n_embed, m.n_classes, sum(p.numel() for p in m.parameters())
    (128, 8, 66696)
    """
    if not isinstance(name, str) or name.lower() not in MODEL_NAMES:
        raise InputError(f"unknown model {name!r}", fix=f"use one of {', '.join(MODEL_NAMES)}")
    name = name.lower()
    n_classes = _check_int(n_classes, "n_classes")
    if not 0.0 <= float(dropout) < 1.0:
        raise InputError(f"dropout must be in [0, 1), got {dropout!r}", fix="use e.g. 0.5")
    if n_features is not None:
        n_features = _check_int(n_features, "n_features")
        if name not in FEATURE_MODELS:
            raise InputError(f"{name} is an image model; it cannot read {n_features} features",
                             fix=f"use one of {', '.join(FEATURE_MODELS)} for feature matrices")
    elif name == "mlp":
        raise InputError("the mlp model needs n_features", fix="pass n_features (columns of the feature matrix)")
    if small_images and not name.startswith("resnet"):
        raise InputError("small_images applies to the ResNets only", fix=f"drop it for {name}")
    hidden = tuple(_check_int(int(h) if not isinstance(h, bool) and float(h) == int(h) else h, "hidden size")
                   for h in hidden)

    if seed is None:
        model = _make(name, n_classes, n_features, hidden, float(dropout), small_images)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            model = _make(name, n_classes, n_features, hidden, float(dropout), small_images)
    if weights is not None:
        load_weights(model, weights)
    if freeze_backbone:
        model.freeze_backbone()
    return model


def _make(name: str, k: int, n_features: int | None, hidden: tuple[int, ...], dropout: float,
          small_images: bool) -> Classifier:
    if name == "mlp":
        backbone, n_embed = _mlp_layers(int(n_features), hidden, dropout)
        return Classifier(backbone, nn.Linear(n_embed, k), name=name)
    if name == "labelme":
        if n_features is not None:
            backbone = nn.Sequential(nn.Linear(n_features, 128), nn.ReLU(), nn.Dropout(0.5))
            return Classifier(backbone, nn.Linear(128, k), name=name)
        vgg = _VGGFeatures()
        backbone = nn.Sequential()
        backbone.add_module("vgg", vgg)
        backbone.add_module("dense", nn.Linear(512, 128))
        backbone.add_module("relu", nn.ReLU())
        backbone.add_module("dropout", nn.Dropout(0.5))

        def tv_key(key: str) -> str | None:  # torchvision vgg16: features.* used, classifier.* not
            return f"backbone.vgg.{key}" if key.startswith("features.") else None

        return Classifier(backbone, nn.Linear(128, k), name=name, tv_key=tv_key)
    import torchvision.models as tvm

    if name.startswith("resnet"):
        net = getattr(tvm, name)(weights=None)
        if small_images:
            net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
            net.maxpool = nn.Identity()
        n_embed = net.fc.in_features
        net.fc = nn.Identity()

        def tv_key(key: str) -> str | None:
            return "head." + key[3:] if key.startswith("fc.") else "backbone." + key

        return Classifier(net, nn.Linear(n_embed, k), name=name, tv_key=tv_key)
    # vgg16_bn
    net = tvm.vgg16_bn(weights=None)
    n_embed = net.classifier[6].in_features
    net.classifier[6] = nn.Identity()

    def tv_key(key: str) -> str | None:
        return "head." + key[len("classifier.6."):] if key.startswith("classifier.6.") else "backbone." + key

    return Classifier(net, nn.Linear(n_embed, k), name=name, tv_key=tv_key)


def load_weights(model: Classifier, path: str | Path) -> Classifier:
    """Load a local state-dict file into ``model`` (in place) and return it.

    Accepted: a state dict of a crowdwise :class:`Classifier` (keys ``backbone.*``,
    ``head.*``; what ``crowdwise train`` writes), the same wrapped as ``{"state_dict":
    ...}`` or ``{"model": ...}``, or a torchvision-format state dict of the same
    architecture (ImageNet checkpoints: ``fc.*`` / ``classifier.6.*`` become the head).
    The file is read with ``torch.load(weights_only=True)``: no pickled code runs.

    A head of another shape (another number of classes) is skipped with a log message
    and keeps its fresh initialisation; any other missing, unexpected or mis-shaped
    tensor raises an :class:`InputError` naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such weights file", source=path,
                         fix="pass a local state-dict file (torch.save(model.state_dict(), path)); "
                             "nothing is downloaded")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
        raise InputError(f"cannot read the weights ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})",
                         source=path, fix="save them with torch.save(model.state_dict(), path)") from None
    if isinstance(state, dict):
        for wrap in ("state_dict", "model", "model_state_dict"):
            if wrap in state and isinstance(state[wrap], dict):
                state = state[wrap]
                break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError("the file does not hold a state dict (name -> tensor)", source=path,
                         fix="save model.state_dict(), not the model object")
    own = model.state_dict()
    fresh: list[str] = []  # parts a torchvision checkpoint does not cover (LabelMe's dense layers)
    if not any(k.startswith(("backbone.", "head.")) for k in state):
        if model._tv_key is None:
            raise InputError(f"keys {', '.join(list(state)[:3])} ... are not those of a crowdwise {model.name} model",
                             source=path, fix="save the weights of a model built by crowdwise (keys backbone.*, head.*)")
        mapped = {}
        for k, v in state.items():
            nk = model._tv_key(k)
            if nk is not None:
                mapped[nk] = v
        state = mapped
        covered = {".".join(k.split(".")[:2]) for k in state}
        fresh = [k for k in own if ".".join(k.split(".")[:2]) not in covered]
    skipped_head = []
    for k in list(state):
        if k in own and state[k].shape != own[k].shape:
            if k.startswith("head."):
                skipped_head.append(k)
                del state[k]
            else:
                raise InputError(f"tensor {k!r} has shape {tuple(state[k].shape)} in the file but "
                                 f"{tuple(own[k].shape)} in the {model.name} model", source=path,
                                 fix="use weights of the same architecture (and small_images setting)")
    unexpected = [k for k in state if k not in own]
    missing = [k for k in own if k not in state and k not in fresh
               and not (k.startswith("head.") and skipped_head)]
    if unexpected or missing:
        what = (f"unexpected {', '.join(unexpected[:3])}" if unexpected else "") + \
               ("; " if unexpected and missing else "") + (f"missing {', '.join(missing[:3])}" if missing else "")
        raise InputError(f"the weights do not fit the {model.name} model ({what})", source=path,
                         fix=f"use weights saved from a {model.name} model")
    model.load_state_dict(state, strict=False)
    if fresh:
        logger.info("%s: %d tensor(s) not in the checkpoint keep their initial weights (%s ...)", path,
                    len(fresh), fresh[0])
    if skipped_head:
        logger.info("%s: head of another shape skipped (%s); it keeps its initial weights", path,
                    ", ".join(skipped_head))
    return model
