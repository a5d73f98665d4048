"""Crowd layers: hand-computed forward passes and losses, and recovery of a swapping worker."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from crowdwise.errors import InputError  # noqa: E402
from crowdwise.learn.crowd_layers import (  # noqa: E402
    CoNAL, CoupledCE, CrowdLayer, CrowdModel, GeoCrowdNet, VoteIndex, make_crowd_head, parse_crowd_spec)
from crowdwise.simulate import independent_confusion  # noqa: E402



def _random_votes(rng, n_tasks=7, n_workers=4, k=3, n_votes=15):
    return (rng.integers(0, n_tasks, n_votes), rng.integers(0, n_workers, n_votes), rng.integers(0, k, n_votes))


def test_vote_index_gathers_the_votes_of_the_batch_tasks():
    rng = np.random.default_rng(0)
    task, worker, label = _random_votes(rng)
    idx = VoteIndex(task, worker, label, n_tasks=7)
    batch = torch.tensor([5, 0, 3, 6])
    row, w, lab, pos = idx.gather(batch, with_position=True)
    # naive: every vote whose task is in the batch, with its row in the batch
    want = sorted((int(np.flatnonzero(batch.numpy() == t)[0]), int(wk), int(lb), int(v))
                  for v, (t, wk, lb) in enumerate(zip(task, worker, label)) if t in batch.tolist())
    got = sorted(zip(row.tolist(), w.tolist(), lab.tolist(), pos.tolist()))
    assert got == want
    assert idx.gather(torch.tensor([], dtype=torch.int64))[0].numel() == 0


def test_vote_index_refuses_tasks_outside_the_rows():
    with pytest.raises(InputError, match="outside 0..2"):
        VoteIndex([0, 3], [0, 0], [1, 1], n_tasks=3)


def test_identity_crowd_layer_reproduces_the_classifier_probabilities():
    torch.manual_seed(0)
    layer = CrowdLayer(n_workers=5, n_classes=4)
    logits = torch.randn(6, 4)
    row, worker = torch.tensor([0, 0, 3, 5, 2]), torch.tensor([4, 1, 0, 2, 2])
    out = layer.outputs(logits, row, worker)
    assert torch.allclose(out, torch.softmax(logits, 1)[row], atol=1e-7)
    # the loss is the cross-entropy of each vote against those outputs taken as logits
    label = torch.tensor([1, 0, 3, 3, 2])
    want = torch.nn.functional.cross_entropy(torch.softmax(logits, 1)[row], label)
    assert torch.allclose(layer.loss(logits, row, worker, label), want)


def test_crowd_layer_applies_each_workers_own_matrix():
    layer = CrowdLayer(n_workers=2, n_classes=2)
    with torch.no_grad():
        layer.weight[1] = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # worker 1 swaps
    logits = torch.log(torch.tensor([[0.9, 0.1]]))
    out = layer.outputs(logits, torch.tensor([0, 0]), torch.tensor([0, 1]))
    assert torch.allclose(out, torch.tensor([[0.9, 0.1], [0.1, 0.9]]), atol=1e-6)
    # effective confusion of the swapper: softmax of its columns, rows = true class
    e = np.exp(1.0)
    np.testing.assert_allclose(layer.confusions()[1], [[1 / (1 + e), e / (1 + e)], [e / (1 + e), 1 / (1 + e)]],
                               rtol=1e-6)


def _blobs(truth, k, dim, rng, spread=0.6):
    centres = np.eye(k, dim) * 3.0
    return (centres[truth] + spread * rng.standard_normal((truth.size, dim))).astype(np.float32)


def _fit(head, x, votes, *, steps=150, lr=0.1, seed=0):
    torch.manual_seed(seed)
    clf = torch.nn.Linear(x.shape[1], votes.n_classes)
    model = CrowdModel(clf, head)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    idx = VoteIndex.from_votes(votes)
    xt = torch.as_tensor(x)
    row, worker, label = idx.gather(torch.arange(votes.n_tasks))
    for _ in range(steps):
        opt.zero_grad()
        loss, _ = model.crowd_loss(xt, row, worker, label)
        loss.backward()
        opt.step()
    return model


@pytest.fixture(scope="module")
def swapping_crowd():
    """3 classes; workers 0-3 right 80% of the time, worker 4 swaps classes 0 and 1."""
    k, good = 3, np.full((3, 3), 0.1) + np.eye(3) * 0.7
    swap = np.array([[0.05, 0.9, 0.05], [0.9, 0.05, 0.05], [0.05, 0.05, 0.9]])
    conf = np.stack([good] * 4 + [swap])
    sim = independent_confusion(300, 5, k, confusions=conf, feedback=3, seed=3)
    x = _blobs(sim.truth, k, 4, np.random.default_rng(1))
    return sim, x


@pytest.mark.parametrize("spec", ["CrowdLayer", "CoupledCE", "GeoCrowdNet-F[lambda=0.01]", "GeoCrowdNet-W[lambda=0.01]"])
def test_crowd_layers_recover_a_swapping_worker(swapping_crowd, spec):
    sim, x = swapping_crowd
    head = make_crowd_head(spec, sim.votes.n_workers, 3)
    model = _fit(head, x, sim.votes)
    conf = head.confusions()
    assert conf.shape == (5, 3, 3)
    assert conf[4].argmax(axis=1).tolist() == [1, 0, 2]  # the swap is learnt
    for j in range(4):
        assert conf[j].argmax(axis=1).tolist() == [0, 1, 2]
    acc = (model.predict_logits(torch.as_tensor(x)).argmax(1).numpy() == sim.truth).mean()
    assert acc > 0.95
    if spec != "CrowdLayer":  # simplex models learn the swap's probabilities themselves
        assert conf[4, 0, 1] > 0.75 and conf[4, 1, 0] > 0.75


def test_geocrowdnet_rows_are_probabilities_and_logdet_terms_match_a_hand_computation():
    torch.manual_seed(2)
    head = GeoCrowdNet(n_workers=3, n_classes=3, lam=0.5, form="F", eps=0.0)
    with torch.no_grad():
        head.worker_logits.copy_(torch.randn(3, 3, 3) * 2)
    conf = head.confusions()
    np.testing.assert_allclose(conf.sum(axis=2), 1.0, atol=1e-6)
    assert (conf > 0).all()
    logits = torch.randn(5, 3, dtype=torch.float64)
    f = np.exp(logits.numpy()) / np.exp(logits.numpy()).sum(1, keepdims=True)  # (B, K)
    big_f = f.T  # K x B as in the paper
    want_f = np.log(np.linalg.det(big_f @ big_f.T))
    assert head.logdet_term(logits).item() == pytest.approx(want_f, rel=1e-6)
    assert head.penalty(logits).item() == pytest.approx(-0.5 * want_f, rel=1e-6)

    head_w = GeoCrowdNet(n_workers=3, n_classes=3, lam=0.5, form="W", eps=0.0)
    with torch.no_grad():
        head_w.worker_logits.copy_(head.worker_logits)
    a = [conf[j].T for j in range(3)]  # A_j: columns on the simplex
    w = np.vstack(a)  # (M K) x K
    want_w = np.log(np.linalg.det(w.T @ w))
    assert head_w.logdet_term(logits).item() == pytest.approx(want_w, rel=1e-5)

    # the loss: mean -log [A_j f(x_i)]_l over the votes, minus lambda log det
    row, worker, label = torch.tensor([0, 0, 4]), torch.tensor([2, 0, 1]), torch.tensor([1, 2, 0])
    nll = -np.mean([np.log((a[j] @ f[i])[lab]) for i, j, lab in zip([0, 0, 4], [2, 0, 1], [1, 2, 0])])
    assert head.loss(logits, row, worker, label).item() == pytest.approx(nll - 0.5 * want_f, rel=1e-5)
    # the voted-column shortcut of the loss agrees with the full answer distribution
    full = torch.nn.functional.nll_loss(head.log_annotation(logits, row, worker), label)
    assert full.item() == pytest.approx(nll, rel=1e-5)


def test_coupled_ce_is_geocrowdnet_without_the_logdet_term():
    torch.manual_seed(4)
    cce, geo = CoupledCE(4, 3), GeoCrowdNet(4, 3, lam=0.3, form="F")
    logits = torch.randn(6, 3)
    row, worker, label = torch.tensor([0, 1, 5]), torch.tensor([3, 0, 1]), torch.tensor([2, 2, 0])
    assert cce.penalty(logits).item() == 0.0
    diff = cce.loss(logits, row, worker, label) - geo.loss(logits, row, worker, label)
    assert diff.item() == pytest.approx(0.3 * geo.logdet_term(logits).item(), rel=1e-5)


def test_conal_without_individual_confusion_is_the_common_confusion_and_scale_is_the_paper_regulariser():
    torch.manual_seed(5)
    head = CoNAL(n_workers=3, n_classes=3, embedding_dim=4, scale=0.0)
    with torch.no_grad():
        g = torch.randn(3, 3)
        head.global_logits.copy_(g)
        head.worker_logits.copy_(g.expand(3, 3, 3))
    logits, emb = torch.randn(5, 3), torch.randn(5, 4)
    row, worker = torch.tensor([0, 2, 4, 4]), torch.tensor([0, 1, 2, 0])
    p = torch.softmax(logits, 1)[row]
    want = torch.log(p @ torch.softmax(g, 1))
    got = head.log_annotation(logits, row, worker, emb)
    assert torch.allclose(got, want, atol=1e-6)
    # any embedding gives the same answers: the instance weight has nothing to mix
    assert torch.allclose(head.log_annotation(logits, row, worker, emb * -7 + 1), want, atol=1e-6)
    assert head.penalty(logits).item() == 0.0

    # with distinct confusions: the mixture with the instance weight, and the penalty
    head2 = CoNAL(n_workers=3, n_classes=3, embedding_dim=4, scale=0.1)
    with torch.no_grad():
        head2.worker_logits.copy_(torch.randn(3, 3, 3))
    w = head2.common_weight(emb, row, worker)
    assert ((w > 0) & (w < 1)).all()
    pw = head2.worker_confusions().detach()
    pg = head2.global_confusion().detach()
    mix = w[:, None] * (p @ pg) + (1 - w[:, None]) * torch.einsum("vk,vkl->vl", p, pw[worker])
    assert torch.allclose(head2.log_annotation(logits, row, worker, emb), torch.log(mix), atol=1e-6)
    want_pen = -0.1 * sum(np.linalg.norm(pw[j].numpy() - pg.numpy()) for j in range(3))
    assert head2.penalty(logits).item() == pytest.approx(want_pen, rel=1e-5)


def test_crowd_model_gives_conal_the_backbone_embedding():
    class Split(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = torch.nn.Linear(6, 5)
            self.head = torch.nn.Linear(5, 3)

        def forward(self, x):
            return self.head(self.backbone(x))

    clf = Split()
    model = CrowdModel(clf, CoNAL(2, 3, embedding_dim=5))
    x = torch.randn(4, 6)
    logits, emb = model.forward_with_embedding(x)
    assert emb.shape == (4, 5) and torch.allclose(logits, clf(x))
    loss, _ = model.crowd_loss(x, torch.tensor([0, 3]), torch.tensor([1, 0]), torch.tensor([2, 1]))
    loss.backward()
    assert model.head.instance_net[0].weight.grad is not None


def test_specs_and_bad_parameters():
    assert parse_crowd_spec("CoNAL[scale=1e-4]") == ("CoNAL", {"scale": 1e-4})
    assert parse_crowd_spec("geocrowdnet-f[lambda=0.02]") == ("GeoCrowdNet-F", {"lam": 0.02})
    assert make_crowd_head("GeoCrowdNet-W", 2, 3).form == "W"
    with pytest.raises(InputError, match="unknown crowd-layer strategy"):
        parse_crowd_spec("CrowdLayr")
    with pytest.raises(InputError, match="no parameter 'lam'"):
        parse_crowd_spec("CoNAL[lam=1]")
    with pytest.raises(InputError, match="not a number"):
        parse_crowd_spec("CoNAL[scale=big]")
    with pytest.raises(InputError, match="must be >= 0"):
        GeoCrowdNet(2, 3, lam=-1.0)
    with pytest.raises(InputError, match="init_diag"):
        CoupledCE(2, 3, init_diag=1.0)
