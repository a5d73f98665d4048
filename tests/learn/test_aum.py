"""AUM / AUMC / WAUM: margins by hand, weights by hand, pruning counts, and detection of
mislabelled examples in a simulated set."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from crowdwise import Votes  # noqa: E402
from crowdwise.errors import InputError  # noqa: E402
from crowdwise.learn.aum import (  # noqa: E402
    MarginRecorder, margins, prune_mask, resolve_confusions, waum_weights, weighted_task_scores)



def _softmax(z):
    e = np.exp(np.asarray(z, dtype=float) - np.max(z))
    return e / e.sum()


def test_margins_by_hand():
    z = torch.tensor([[3.0, 1.0, 0.0, -1.0],    # label 0 is the top class
                      [3.0, 1.0, 0.0, -1.0],    # label 1 is second
                      [3.0, 1.0, 0.0, -1.0]])   # label 2 is third
    y = torch.tensor([0, 1, 2])
    p = _softmax([3.0, 1.0, 0.0, -1.0])
    # psi5: sigma_y - sigma_[2]
    np.testing.assert_allclose(margins(z, y).numpy(), [p[0] - p[1], 0.0, p[2] - p[1]], rtol=1e-6, atol=1e-7)
    # softmax, largest other: sigma_y - max_{l != y} sigma_l
    np.testing.assert_allclose(margins(z, y, kind="softmax").numpy(), [p[0] - p[1], p[1] - p[0], p[2] - p[0]],
                               rtol=1e-6)
    # psi1 (Pleiss et al.): logits
    np.testing.assert_allclose(margins(z, y, kind="psi1").numpy(), [2.0, -2.0, -3.0])
    # top-2: sigma_y - sigma_[3]
    np.testing.assert_allclose(margins(z, y, topk=2).numpy(), [p[0] - p[2], p[1] - p[2], 0.0], rtol=1e-6,
                               atol=1e-7)


def test_margin_options_are_checked():
    z, y = torch.zeros(2, 3), torch.tensor([0, 1])
    with pytest.raises(InputError, match="unknown margin"):
        margins(z, y, kind="psi3")
    with pytest.raises(InputError, match="top-k variant"):
        margins(z, y, kind="psi1", topk=2)
    with pytest.raises(InputError, match="topk=3 needs more than 3 classes"):
        margins(z, y, topk=3)


def test_recorder_averages_over_epochs_after_burn_in():
    rec = MarginRecorder([1, 0, 1], n_classes=2, kind="psi1", burn_in=1)
    rec.update(torch.tensor([[9.0, -9.0], [0.0, 0.0], [0.0, 0.0]]), [0, 1, 2])  # epoch 0: ignored
    rec.end_epoch()
    rec.update(torch.tensor([[0.0, 1.0], [2.0, 0.0]]), [0, 1])  # batches in any order
    rec.update(torch.tensor([[0.0, -1.0]]), [2])
    rec.end_epoch()
    rec.update(torch.tensor([[0.0, 3.0], [0.0, 2.0]]), [0, 2])  # example 1 not seen this epoch
    rec.end_epoch()
    np.testing.assert_allclose(rec.aum, [(1.0 + 3.0) / 2, 2.0, (-1.0 + 2.0) / 2])
    np.testing.assert_allclose(rec.last_probs[1], _softmax([2.0, 0.0]))


def test_waum_weights_and_task_scores_by_hand():
    pi = np.array([[[0.9, 0.1], [0.2, 0.8]],     # worker 0
                   [[0.5, 0.5], [0.5, 0.5]]])    # worker 1 (spammer)
    probs = np.array([[0.7, 0.3], [0.7, 0.3], [0.1, 0.9]])
    worker = np.array([0, 1, 0])
    s = waum_weights(probs, pi, worker)
    np.testing.assert_allclose(s, [0.7 * 0.9 + 0.3 * 0.8, 0.5, 0.1 * 0.9 + 0.9 * 0.8])
    aum = np.array([0.4, -0.6, 0.2])
    task = np.array([0, 0, 1])
    got = weighted_task_scores(aum, s, task, 3)
    want0 = (0.87 * 0.4 + 0.5 * -0.6) / (0.87 + 0.5)
    np.testing.assert_allclose(got[:2], [want0, 0.2])
    assert math.isnan(got[2])


def test_prune_counts_global_and_per_class():
    rng = np.random.default_rng(0)
    scores = rng.permutation(np.linspace(-1, 1, 200))
    keep = prune_mask(scores, 0.1)
    # q = quantile at 0.1 of 200 distinct values lies between the 20th and 21st smallest
    assert keep.sum() == 200 - 20
    assert scores[~keep].max() < scores[keep].min()
    classes = np.repeat([0, 1, 2, 3], 50)
    keep_c = prune_mask(scores, 0.1, classes=classes)
    for c in range(4):
        # 50 distinct values: q(0.1) lies between the 5th and 6th smallest -> 5 removed
        assert (keep_c[classes == c]).sum() == 45
        g = scores[classes == c]
        assert g[~keep_c[classes == c]].max() < g[keep_c[classes == c]].min()
    nan_scores = scores.copy()
    nan_scores[:3] = np.nan
    keep_n = prune_mask(nan_scores, 0.1)
    assert keep_n[:3].all()
    with pytest.raises(InputError, match="outside"):
        prune_mask(scores, 1.0)


def test_resolve_confusions_from_spec_array_or_estimator():
    v = Votes.from_records(task=[0, 0, 1, 1, 2], worker=["a", "b", "a", "b", "a"], label=[0, 0, 1, 0, 1],
                           n_classes=2)
    c = resolve_confusions(v, "DS")
    assert c.shape == (2, 2, 2)
    np.testing.assert_allclose(c.sum(axis=2), 1.0)
    arr = np.full((2, 2, 2), 0.5)
    assert np.array_equal(resolve_confusions(v, arr), arr)
    with pytest.raises(InputError, match="shape"):
        resolve_confusions(v, np.ones((3, 2, 2)))
    with pytest.raises(InputError, match="no confusion matrices"):
        resolve_confusions(v, "MV")


# --------------------------------------------------------------------------- trained
def _blobs(truth, k, dim, rng, spread=0.7):
    centres = np.eye(k, dim) * 3.0
    return (centres[truth] + spread * rng.standard_normal((truth.size, dim))).astype(np.float32)


def _data(x, truth):
    from crowdwise.learn.data import Split, TaskData

    return TaskData(Split("train", np.arange(len(x)), truth, features=x), None, None, np.arange(3))


def _config(epochs=15):
    from crowdwise.learn.train import TrainConfig

    return TrainConfig(epochs=epochs, batch_size=32, optimizer="adam", lr=0.01, weight_decay=0.0,
                       scheduler="none", device="cpu", threads=1, seed=0)


def test_mislabelled_examples_get_the_lowest_aum():
    from crowdwise.learn.aum import aum_scores

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 150)
    x = _blobs(truth, 3, 4, rng, spread=0.5)
    labels = truth.copy()
    flipped = rng.choice(150, 10, replace=False)
    labels[flipped] = (truth[flipped] + 1) % 3
    res = aum_scores(_data(x, truth), labels, model="mlp", model_options={"hidden": ()}, config=_config())
    lowest = np.argsort(res.scores)[:10]
    assert set(lowest.tolist()) == set(flipped.tolist())
    assert res.scores[flipped].max() <= 0 < np.median(res.scores)  # psi5 is 0 when the label is second
    labels[:5] = -1
    res2 = aum_scores(_data(x, truth), labels, model="mlp", model_options={"hidden": ()}, config=_config(2))
    assert np.isnan(res2.scores[:5]).all() and not np.isnan(res2.scores[5:]).any()
    with pytest.raises(InputError, match="one hard label per task"):
        aum_scores(_data(x, truth), labels[:10], config=_config(1))
    for burn_in in (2, 5, -1):  # all NaN scores before: no epoch was left to average
        with pytest.raises(InputError, match=f"burn_in={burn_in} leaves no epoch of the 2"):
            aum_scores(_data(x, truth), labels, config=_config(2), burn_in=burn_in)
    assert not np.isnan(aum_scores(_data(x, truth), labels, model="mlp", model_options={"hidden": ()},
                                   config=_config(2), burn_in=1).scores[5:]).any()


def test_waum_stacked_and_per_worker_weight_each_vote_by_the_worker_trust():
    from crowdwise.learn.aum import aumc_scores, waum_scores
    from crowdwise.simulate import independent_confusion

    good = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.15, 0.15, 0.7]])  # class-dependent diagonal
    bad = np.full((3, 3), 1 / 3)  # a spammer
    sim = independent_confusion(90, 4, 3, confusions=np.stack([good, good, good, bad]), feedback=3, seed=1)
    rng = np.random.default_rng(2)
    data = _data(_blobs(sim.truth, 3, 4, rng), sim.truth)
    votes = sim.votes
    res = waum_scores(votes, data, confusions=sim.confusions, model_options={"hidden": ()}, config=_config(10))
    assert res.form == "stacked" and res.vote_aum.shape == (votes.n_votes,)
    # weights: s_v = <diag(pi_j), sigma> with sigma a probability vector -> the spammer's are 1/3
    spam = votes.worker == 3
    np.testing.assert_allclose(res.vote_weights[spam], 1 / 3, rtol=1e-6)
    # a good worker's: a convex combination of 0.9, 0.8, 0.7, near the diagonal entry of the task's class
    w = res.vote_weights[~spam]
    assert (w > 0.7 - 1e-6).all() and (w < 0.9 + 1e-6).all()
    assert np.corrcoef(w, np.array([0.9, 0.8, 0.7])[sim.truth[votes.task[~spam]]])[0, 1] > 0.9
    # the score of a task is the weighted mean of its votes' AUM
    t = int(votes.task[0])
    m = votes.task == t
    want = (res.vote_weights[m] * res.vote_aum[m]).sum() / res.vote_weights[m].sum()
    assert res.scores[t] == pytest.approx(want)
    # wrong votes have low AUM
    wrong = votes.label != sim.truth[votes.task]
    assert res.vote_aum[wrong].mean() < 0 < res.vote_aum[~wrong].mean()
    per = waum_scores(votes, data, confusions="DS", form="per-worker", model_options={"hidden": ()},
                      config=_config(5))
    assert per.form == "per-worker" and np.isfinite(per.scores).all()
    assert per.confusions.shape == (4, 3, 3)
    aumc = aumc_scores(votes, data, model_options={"hidden": ()}, config=_config(3))
    from crowdwise.aggregate import MajorityVote

    assert np.array_equal(aumc.labels, MajorityVote(random_state=0).fit(votes).labels_)
    with pytest.raises(InputError, match="unknown WAUM form"):
        waum_scores(votes, data, form="both")


def test_resolve_confusions_of_dswc_are_the_membership_mixtures():
    from crowdwise.aggregate import make_strategy
    from crowdwise.simulate import independent_confusion

    v = independent_confusion(n_workers=12, n_tasks=150, n_classes=3, feedback=3, seed=2).votes
    conf = resolve_confusions(v, "DSWC[L=3]")
    m = make_strategy("DSWC[L=3]", random_state=0).fit(v)
    expected = np.einsum("jl,lkm->jkm", m.memberships_, m.cluster_confusions_)
    np.testing.assert_allclose(conf, expected)
    np.testing.assert_allclose(conf.sum(axis=2), 1.0)
