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


# --------------------------------------------------------------------------- regularisers (issue 21)
def _softmax_backward(p, g):
    """Gradient w.r.t. the logits of rows ``p = softmax(logits)`` given the gradient ``g`` w.r.t. ``p``."""
    return p * (g - (p * g).sum(-1, keepdims=True))


def _grads(head, logits, emb, row, worker, label):
    """Gradients of ``head.loss`` w.r.t. the batch logits and every parameter of the head."""
    logits = logits.clone().requires_grad_(True)
    loss = head.loss(logits, row, worker, label, emb)
    named = dict(head.named_parameters())
    got = torch.autograd.grad(loss, [logits, *named.values()], allow_unused=True)
    return {"logits": got[0], **{k: (torch.zeros_like(v) if g is None else g)
                                 for (k, v), g in zip(named.items(), got[1:])}}


def _twin(make, lam, reference):
    """A head built by ``make(lam)`` with the parameters of ``reference`` (float64)."""
    head = make(lam).double()
    head.load_state_dict(reference.state_dict())
    return head


def _batch(seed=0, b=6, k=3, w=4, n_votes=14, d=5):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, k, generator=g, dtype=torch.float64)
    emb = torch.randn(b, d, generator=g, dtype=torch.float64)
    row = torch.randint(0, b, (n_votes,), generator=g)
    worker = torch.randint(0, w, (n_votes,), generator=g)
    label = torch.randint(0, k, (n_votes,), generator=g)
    return logits, emb, row, worker, label


@pytest.mark.parametrize("scale", [1e-4, 1.0])
def test_conal_regulariser_reaches_the_confusions_at_the_documented_scale(scale):
    # L = NLL - scale * sum_j ||Pi_j - Pi_g||_F: the difference of the gradients with and without
    # the term is, on the confusion logits, scale times the hand-derived gradient of the norms
    torch.manual_seed(0)
    base = CoNAL(4, 3, embedding_dim=5, scale=0.0).double()
    with torch.no_grad():
        base.worker_logits.add_(torch.randn(4, 3, 3, dtype=torch.float64))  # Pi_j != Pi_g
    logits, emb, row, worker, label = _batch()
    g0 = _grads(base, logits, emb, row, worker, label)
    g1 = _grads(_twin(lambda s: CoNAL(4, 3, embedding_dim=5, scale=s), scale, base), logits, emb, row, worker,
                label)
    pw, pg = base.worker_confusions().detach().numpy(), base.global_confusion().detach().numpy()
    diff = pw - pg
    unit = diff / np.linalg.norm(diff, axis=(1, 2), keepdims=True)
    want_w = _softmax_backward(pw, -scale * unit)          # d(-scale ||D_j||)/d Pi_j = -scale D_j / ||D_j||
    want_g = _softmax_backward(pg, scale * unit.sum(0))   # and +scale sum_j D_j / ||D_j|| on Pi_g
    got_w = (g1["worker_logits"] - g0["worker_logits"]).numpy()
    got_g = (g1["global_logits"] - g0["global_logits"]).numpy()
    np.testing.assert_allclose(got_w, want_w, rtol=1e-7, atol=1e-14 * scale)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-7, atol=1e-14 * scale)
    assert scale / 100 < np.abs(got_w).max() < scale  # of the order of scale: not lost, not amplified
    for name in g0:  # the classifier and the auxiliary network only see the NLL
        if name not in ("worker_logits", "global_logits"):
            assert torch.equal(g0[name], g1[name]), name


def test_conal_regulariser_has_no_gradient_while_every_confusion_is_the_common_one():
    # at initialisation Pi_j = Pi_g (same init_diag): the norm is at 0, where its (sub)gradient
    # is 0; the NLL moves the Pi_j apart on the first step and the term acts from then on
    head = CoNAL(4, 3, embedding_dim=5, scale=1.0).double()
    logits, emb, row, worker, label = _batch()
    g1 = _grads(head, logits, emb, row, worker, label)
    g0 = _grads(_twin(lambda s: CoNAL(4, 3, embedding_dim=5, scale=s), 0.0, head), logits, emb, row, worker, label)
    assert all(torch.equal(g0[k], g1[k]) for k in g0)
    assert head.penalty(logits).item() == 0.0


@pytest.mark.parametrize("lam", [1e-4, 1.0])
def test_geocrowdnet_w_regulariser_reaches_the_confusions_at_the_documented_scale(lam):
    # L = CCE - lam log det(W^T W + eps I), W^T W = sum_m A_m^T A_m = sum_m a_m a_m^T with
    # a_m = confusions()[m]: d log det / d a_m = 2 G^{-1} a_m
    torch.manual_seed(1)
    base = GeoCrowdNet(4, 3, lam=0.0, form="W").double()
    with torch.no_grad():
        base.worker_logits.add_(torch.randn(4, 3, 3, dtype=torch.float64))
    logits, emb, row, worker, label = _batch(1)
    g0 = _grads(base, logits, None, row, worker, label)
    g1 = _grads(_twin(lambda s: GeoCrowdNet(4, 3, lam=s, form="W"), lam, base), logits, None, row, worker, label)
    a = base.worker_confusions().detach().numpy()
    gram = np.einsum("mkl,mhl->kh", a, a) + base.eps * np.eye(3)
    want = _softmax_backward(a, -2 * lam * np.einsum("kh,mhl->mkl", np.linalg.inv(gram), a))
    got = (g1["worker_logits"] - g0["worker_logits"]).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-14 * lam)
    assert lam / 100 < np.abs(got).max() < lam
    assert torch.equal(g0["logits"], g1["logits"])  # the W form does not touch the classifier


@pytest.mark.parametrize("lam", [1e-4, 1.0])
def test_geocrowdnet_f_regulariser_reaches_the_classifier_at_the_documented_scale(lam):
    # L = CCE - lam log det(F F^T + eps I), F^T = softmax(logits) (B x K): d log det / d F^T = 2 F^T G^{-1}
    torch.manual_seed(2)
    base = GeoCrowdNet(4, 3, lam=0.0, form="F").double()
    logits, emb, row, worker, label = _batch(2)
    g0 = _grads(base, logits, None, row, worker, label)
    g1 = _grads(_twin(lambda s: GeoCrowdNet(4, 3, lam=s, form="F"), lam, base), logits, None, row, worker, label)
    f = torch.softmax(logits, 1).numpy()
    gram = f.T @ f + base.eps * np.eye(3)
    want = _softmax_backward(f, -2 * lam * f @ np.linalg.inv(gram))
    got = (g1["logits"] - g0["logits"]).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-14 * lam)
    assert lam / 100 < np.abs(got).max() < 10 * lam
    assert torch.equal(g0["worker_logits"], g1["worker_logits"])  # the F form does not touch the confusions


def _spread(conf):
    """Mean Frobenius distance of the workers' confusions to their mean."""
    return float(np.linalg.norm(conf - conf.mean(0), axis=(1, 2)).mean())


def test_a_large_regulariser_changes_the_fit_and_a_small_one_changes_it_a_little(swapping_crowd):
    sim, x = swapping_crowd
    w, k = sim.votes.n_workers, 3
    xt = torch.as_tensor(x)

    def conal(scale):
        torch.manual_seed(0)  # the same auxiliary network for every scale
        head = CoNAL(w, k, embedding_dim=x.shape[1], scale=scale)
        _fit(head, x, sim.votes, steps=60)
        pw, pg = head.worker_confusions().detach().numpy(), head.global_confusion().detach().numpy()
        return head.confusions(), float(np.linalg.norm(pw - pg, axis=(1, 2)).sum())

    (c0, d0), (c_small, d_small), (c_big, d_big) = conal(0.0), conal(1e-4), conal(1.0)
    assert d_big > d0 + 0.5  # pushed apart: the term the paper adds does what it says
    # scale=1e-4 changes the fit too, in the same direction (under Adam the change is not
    # proportional to the scale: the step of a parameter whose NLL gradient is small is normalised)
    assert np.abs(c_small - c0).max() > 1e-3 and d0 < d_small < d_big

    def geo(form, lam):
        head = GeoCrowdNet(w, k, lam=lam, form=form)
        model = _fit(head, x, sim.votes, steps=60)
        with torch.no_grad():
            proba = torch.softmax(model.predict_logits(xt), 1).numpy()
        return head.confusions(), proba

    c0, p0 = geo("W", 0.0)
    c_big, _ = geo("W", 1.0)
    a0 = np.concatenate(list(c0))
    a_big = np.concatenate(list(c_big))
    assert np.linalg.slogdet(a_big.T @ a_big)[1] > np.linalg.slogdet(a0.T @ a0)[1] + 0.1  # more volume
    _, p_big = geo("F", 1.0)
    # predictions fill the simplex (bound for 300 one-hot rows, 100 a class: 3 log 100 = 13.82)
    assert np.linalg.slogdet(p_big.T @ p_big)[1] > np.linalg.slogdet(p0.T @ p0)[1] + 0.02


# --------------------------------------------------------------------------- GeoCrowdNet-F, short batches
def test_geocrowdnet_f_has_no_logdet_term_on_a_batch_smaller_than_k():
    # F F^T of B < K rows has rank B: log det is (K - B) log eps + ..., only eps keeps it finite
    torch.manual_seed(3)
    head, cce = GeoCrowdNet(3, 4, lam=0.5, form="F"), CoupledCE(3, 4)
    logits = torch.randn(3, 4)
    row, worker, label = torch.tensor([0, 1, 2, 2]), torch.tensor([0, 1, 2, 0]), torch.tensor([3, 0, 1, 1])
    assert head.penalty(logits).item() == 0.0
    assert head.loss(logits, row, worker, label).item() == cce.loss(logits, row, worker, label).item()
    full = torch.randn(4, 4)
    assert head.penalty(full).item() == pytest.approx(-0.5 * head.logdet_term(full).item())
    assert head.penalty(full).item() != 0.0
    # the W form does not depend on the batch
    w = GeoCrowdNet(3, 4, lam=0.5, form="W")
    assert w.penalty(logits).item() == pytest.approx(-0.5 * w.logdet_term(logits).item())


def test_geocrowdnet_f_training_with_a_remainder_batch_smaller_than_k():
    from crowdwise import Votes
    from crowdwise.learn.crowd_layers import VoteLoss
    from crowdwise.learn.data import Split, make_dataset
    from crowdwise.learn.train import TrainConfig, fit

    # 10 tasks, K = 3, batches of 4: every epoch ends with a batch of 2 < K rows
    rng = np.random.default_rng(0)
    truth = np.arange(10) % 3
    x = _blobs(truth, 3, 4, rng)
    task = np.repeat(np.arange(10), 2)
    votes = Votes.from_records(task, np.tile([0, 1], 10), truth[task], n_classes=3)
    head = GeoCrowdNet(2, 3, lam=1.0, form="F")
    model = CrowdModel(torch.nn.Linear(4, 3), head)
    vote_loss = VoteLoss(head, VoteIndex.from_votes(votes))
    seen = []

    def loss(output, target, index):
        value = vote_loss(output, target, index)
        seen.append((len(index), head.penalty(output[0]).item(), value.item()))
        return value

    split = Split("train", np.arange(10), truth, features=x)
    res = fit(model, make_dataset(split, np.zeros(10, np.int64)), loss=loss,
              config=TrainConfig(epochs=3, batch_size=4, optimizer="adam", lr=0.01, scheduler="none",
                                 device="cpu", threads=1))
    sizes = [n for n, _, _ in seen]
    assert sizes == [4, 4, 2] * 3
    assert all(pen == 0.0 for n, pen, _ in seen if n < 3)  # no log det of a rank-deficient F F^T
    assert all(pen != 0.0 for n, pen, _ in seen if n >= 3)
    # a short batch's loss is its CCE (about log 3 here), not -log det ~ -(K - B) log eps = 13.8
    assert all(np.isfinite(v) for _, _, v in seen) and all(v < 3 for n, _, v in seen if n < 3)
    assert len(res.history) == 3 and all(np.isfinite(h["train_loss"]) for h in res.history)
