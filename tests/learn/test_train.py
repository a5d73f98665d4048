"""The training loop: learning a separable set, hand-computed losses (hard and soft),
-1 labels skipped, bit-identical runs with a seed, the best validation epoch really
kept, callbacks, schedulers, and training on tiny images."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from crowdwise.errors import InputError  # noqa: E402
from crowdwise.learn.data import Split, load_image_folder, make_dataset  # noqa: E402
from crowdwise.learn.models import build_model  # noqa: E402
from crowdwise.learn.train import (  # noqa: E402
    Callback, TrainConfig, TrainingDiverged, cross_entropy, evaluate, fit, predict_proba)
from learn._tiny import make_image_dataset, separable_features  # noqa: E402



def cfg(**kw) -> TrainConfig:
    base = dict(epochs=10, batch_size=32, lr=0.05, device="cpu", seed=0)
    base.update(kw)
    return TrainConfig(**base)


def split(x, y, name="train") -> Split:
    return Split(name, np.arange(len(y)), np.asarray(y), features=np.asarray(x, np.float32))


def test_mlp_learns_a_separable_set():
    x, y = separable_features(300, d=5, k=3, seed=0)
    tr, te = split(x[:200], y[:200]), split(x[200:], y[200:], "test")
    model = build_model("mlp", 3, n_features=5, hidden=(16,), seed=0)
    res = fit(model, make_dataset(tr, y[:200]), config=cfg(epochs=15))
    metrics, proba = evaluate(res.model, te)
    assert metrics["test_accuracy"] > 0.95 and metrics["test_n"] == 100
    assert proba.shape == (100, 3) and np.allclose(proba.sum(1), 1)
    assert res.history[-1]["train_loss"] < 0.5 * res.history[0]["train_loss"]


def _constant_logits_model(logits):
    """A linear model whose logits are ``logits`` for every input (zero weights)."""
    m = build_model("mlp", len(logits), n_features=2, hidden=(), seed=0)
    with torch.no_grad():
        m.head.weight.zero_()
        m.head.bias.copy_(torch.tensor(logits))
    return m


def test_loss_by_hand_hard_and_soft():
    z = torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]])
    # hard: -(log 3/4 + log 1/2) / 2
    assert cross_entropy(z, torch.tensor([0, 1])).item() == pytest.approx(-(math.log(.75) + math.log(.5)) / 2)
    # soft: row 1 (.25, .75) on (3/4, 1/4); row 2 (1, 0) on (1/2, 1/2)
    soft = torch.tensor([[.25, .75], [1.0, 0.0]])
    expected = -(.25 * math.log(.75) + .75 * math.log(.25) + math.log(.5)) / 2
    assert cross_entropy(z, soft).item() == pytest.approx(expected)
    # the first recorded training loss is the loss of the initial model (one batch of everything)
    x = np.zeros((4, 2), np.float32)
    tr = split(x, [0, 0, 1, 1])
    for targets, want in [(np.array([0, 0, 0, 1]), -(3 * math.log(.75) + math.log(.25)) / 4),
                          (np.array([[.5, .5]] * 4), -(math.log(.75) + math.log(.25)) / 2)]:
        res = fit(_constant_logits_model([math.log(3.0), 0.0]), make_dataset(tr, targets),
                  config=cfg(epochs=1, batch_size=4, lr=1e-3))
        assert res.history[0]["train_loss"] == pytest.approx(want, rel=1e-6)


class Seen(Callback):
    """Records the indices, targets and logits of every training batch, per epoch."""

    def on_train_begin(self, state):
        self.index, self.logits, self.ends = [], [], []

    def on_batch_end(self, state, batch):
        assert batch.logits.requires_grad is False
        while len(self.index) <= state.epoch:
            self.index.append([])
            self.logits.append([])
        self.index[state.epoch] += batch.index.tolist()
        self.logits[state.epoch].append(batch.logits)

    def on_epoch_end(self, state):
        self.ends.append(state.history[-1]["epoch"])


def test_missing_labels_are_skipped():
    x, y = separable_features(40, k=2, seed=1)
    labels = y.copy()
    labels[[3, 7, 20]] = -1
    seen = Seen()
    fit(build_model("mlp", 2, n_features=5, seed=0), make_dataset(split(x, y), labels),
        config=cfg(epochs=2, batch_size=8), callbacks=[seen])
    expected = sorted(set(range(40)) - {3, 7, 20})
    assert [sorted(ix) for ix in seen.index] == [expected, expected]  # every labelled task once per epoch
    assert seen.ends == [1, 2]
    assert torch.cat(seen.logits[0]).shape == (37, 2)
    # soft rows without mass are skipped too
    soft = np.eye(2)[y]
    soft[[0, 1]] = 0.0
    seen = Seen()
    fit(build_model("mlp", 2, n_features=5, seed=0), make_dataset(split(x, y), soft),
        config=cfg(epochs=1, batch_size=8), callbacks=[seen])
    assert sorted(seen.index[0]) == list(range(2, 40))


def test_all_labels_missing_is_an_error():
    x, y = separable_features(10, k=2)
    with pytest.raises(InputError, match="no training example"):
        fit(build_model("mlp", 2, n_features=5), make_dataset(split(x, y), np.full(10, -1)), config=cfg())


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_same_seed_same_weights_bit_for_bit():
    x, y = separable_features(90, k=3, seed=2)
    runs = []
    for seed in (4, 4, 5):
        model = build_model("mlp", 3, n_features=5, hidden=(16,), dropout=0.3, seed=0)
        fit(model, make_dataset(split(x, y), y), config=cfg(epochs=3, batch_size=16, seed=seed))
        runs.append(_weights(model))
    for k in runs[0]:
        assert torch.equal(runs[0][k], runs[1][k]), k
    assert any(not torch.equal(runs[0][k], runs[2][k]) for k in runs[0])  # shuffling / dropout differ


def test_fit_leaves_the_global_rng_alone():
    x, y = separable_features(30, k=3)
    torch.manual_seed(9)
    expected = torch.rand(2)
    torch.manual_seed(9)
    fit(build_model("mlp", 3, n_features=5, dropout=0.5, seed=0), make_dataset(split(x, y), y), config=cfg(epochs=2))
    assert torch.equal(torch.rand(2), expected)


def test_best_validation_epoch_is_kept():
    # train on flipped labels: validation accuracy (true labels) falls as training goes on,
    # so the best epoch is an early one and the final weights are not the last epoch's
    x, y = separable_features(120, k=2, seed=3)
    tr, va = split(x[:80], y[:80]), split(x[80:], y[80:], "val")
    snapshots = []

    class Snap(Callback):
        def on_epoch_end(self, state):
            snapshots.append(_weights(state.model))

    model = build_model("mlp", 2, n_features=5, hidden=(8,), seed=0)
    res = fit(model, make_dataset(tr, 1 - y[:80]), val_set=make_dataset(va), config=cfg(epochs=8, lr=0.02),
              callbacks=[Snap()])
    accs = [h["val_accuracy"] for h in res.history]
    losses = [h["val_loss"] for h in res.history]
    tied = [e for e in range(8) if accs[e] == max(accs)]
    assert res.best_epoch == 1 + min(tied, key=lambda e: (losses[e], e))  # ties: lower loss
    assert res.best_epoch < 8 and max(accs) > accs[-1]
    for k, v in snapshots[res.best_epoch - 1].items():
        assert torch.equal(res.model.state_dict()[k], v), k
    again = evaluate(res.model, va, prefix="val_")[0]["val_accuracy"]
    assert again == pytest.approx(max(accs)) and res.best_val_accuracy == max(accs)
    # selecting on the validation loss instead
    res2 = fit(build_model("mlp", 2, n_features=5, hidden=(8,), seed=0), make_dataset(tr, 1 - y[:80]),
               val_set=make_dataset(va), config=cfg(epochs=8, lr=0.02, select="val_loss"))
    losses = [h["val_loss"] for h in res2.history]
    assert res2.best_epoch == 1 + int(np.argmin(losses))


def test_without_validation_the_last_epoch_is_kept():
    x, y = separable_features(30, k=3)
    res = fit(build_model("mlp", 3, n_features=5, seed=0), make_dataset(split(x, y), y), config=cfg(epochs=3))
    assert res.best_epoch == 3 and "val_accuracy" not in res.history[-1]


def test_schedulers_and_adam():
    x, y = separable_features(30, k=3)
    ds = make_dataset(split(x, y), y)
    res = fit(build_model("mlp", 3, n_features=5, seed=0), ds,
              config=cfg(epochs=6, lr=0.1, scheduler="multistep", milestones=(2, 4), gamma=0.5))
    assert [h["lr"] for h in res.history] == pytest.approx([.1, .1, .05, .05, .025, .025])
    res = fit(build_model("mlp", 3, n_features=5, seed=0), ds, config=cfg(epochs=4, lr=0.1, scheduler="cosine"))
    assert [h["lr"] for h in res.history] == pytest.approx([.1 * (1 + math.cos(math.pi * e / 4)) / 2
                                                            for e in range(4)])
    res = fit(build_model("mlp", 3, n_features=5, seed=0), ds, config=cfg(epochs=5, optimizer="adam", lr=0.01,
                                                                            scheduler="none"))
    assert [h["lr"] for h in res.history] == [0.01] * 5
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]
    assert TrainConfig(epochs=40).resolved_milestones == (20, 30)


def test_settings_record_milestones_only_for_the_multistep_schedule():
    assert TrainConfig(epochs=40, scheduler="multistep").to_dict()["milestones"] == [20, 30]
    assert TrainConfig(epochs=40, scheduler="none").to_dict()["milestones"] is None
    assert TrainConfig(epochs=40, scheduler="cosine").to_dict()["milestones"] is None


def test_callback_can_stop_early():
    x, y = separable_features(30, k=3)

    class StopAt2(Callback):
        def on_epoch_end(self, state):
            state.stop = state.epoch == 1

    res = fit(build_model("mlp", 3, n_features=5, seed=0), make_dataset(split(x, y), y), config=cfg(epochs=9),
              callbacks=[StopAt2()])
    assert len(res.history) == 2 and res.best_epoch == 2


def test_custom_loss_and_wrapper_output():
    """A wrapper returning (logits, extra) and a loss using the indices (as crowd layers do)."""
    x, y = separable_features(60, k=3)
    seen_idx = []

    class Wrapper(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            self.scale = torch.nn.Parameter(torch.ones(()))

        def forward(self, x):
            z = self.inner(x)
            return z * self.scale, z

    def loss(output, target, index):
        seen_idx.append(index.clone())
        return torch.nn.functional.cross_entropy(output[0], torch.as_tensor(y)[index])

    w = Wrapper(build_model("mlp", 3, n_features=5, seed=0))
    res = fit(w, make_dataset(split(x, y), np.zeros(60, np.int64)), loss=loss, config=cfg(epochs=10))
    assert sorted(torch.cat(seen_idx[:2]).tolist()) == list(range(60))  # two batches of 32 + 28
    proba = predict_proba(res.model, split(x, y))
    assert (proba.argmax(1) == y).mean() > 0.95  # learnt from the loss's labels, not the zero targets


def test_divergence_is_reported():
    x, y = separable_features(30, k=3)
    x = x * 1e20
    with pytest.raises(TrainingDiverged, match="lower the learning rate"):
        fit(build_model("mlp", 3, n_features=5, seed=0), make_dataset(split(x, y), y), config=cfg(lr=1e10))


@pytest.mark.parametrize("kw, match", [(dict(epochs=0), "epochs"), (dict(optimizer="rmsprop"), "optimizer"),
                                       (dict(scheduler="step"), "scheduler"), (dict(lr=0), "lr"),
                                       (dict(milestones=(5, 2)), "milestones"), (dict(select="loss"), "selection")])
def test_bad_config(kw, match):
    with pytest.raises(InputError, match=match):
        TrainConfig(**kw)


@pytest.mark.parametrize("device, match", [("xyz", "not a torch device"), ("cuda:99", "CUDA GPU")])
def test_bad_device_is_an_input_error(device, match):
    if device.startswith("cuda") and torch.cuda.device_count() > 99:  # pragma: no cover
        pytest.skip("a machine with 100 GPUs")
    with pytest.raises(InputError, match=match):
        TrainConfig(device=device)
    assert TrainConfig(device="cpu").device == "cpu"


def test_resnet18_trains_on_tiny_images(tmp_path):
    make_image_dataset(tmp_path, n_train=12, n_val=6, n_test=6, size=8)
    from crowdwise import io

    votes = io.load_votes(tmp_path / "votes.csv")
    data = load_image_folder(tmp_path, votes)
    model = build_model("resnet18", 3, small_images=True, seed=0)
    seen = Seen()
    res = fit(model, make_dataset(data.train, data.train.truth, augment=True, img_size=8),
              val_set=make_dataset(data.val, img_size=8), config=cfg(epochs=2, batch_size=6, lr=0.01),
              callbacks=[seen])
    assert len(res.history) == 2 and all(0 <= h["val_accuracy"] <= 1 for h in res.history)
    assert sorted(seen.index[1]) == list(range(12))
    metrics, proba = evaluate(res.model, data.test, img_size=8)
    assert proba.shape == (6, 3) and metrics["test_n"] == 6


def test_accuracy_ties_go_to_the_lower_validation_loss():
    # an easy set: validation accuracy is 1 from the first epoch on, the loss keeps falling;
    # the kept epoch is the most confident one, not the first perfect one
    x, y = separable_features(90, k=3, seed=4)
    res = fit(build_model("mlp", 3, n_features=5, hidden=(16,), seed=0), make_dataset(split(x[:60], y[:60]), y[:60]),
              val_set=make_dataset(split(x[60:], y[60:], "val")), config=cfg(epochs=6, lr=0.1))
    accs = [h["val_accuracy"] for h in res.history]
    losses = [h["val_loss"] for h in res.history]
    assert accs.count(1.0) >= 2 and accs[0] == 1.0
    assert res.best_epoch == 1 + int(np.argmin(losses)) and res.best_epoch > 1
