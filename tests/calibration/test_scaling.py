"""Temperature and vector scaling: hand-computed fits, parameters recovered on data drawn
from known ones.

Tolerances: the fits are maximum-likelihood estimates, so each parameter is off by about
one standard error ``1 / sqrt(Fisher information)``; the tests compute that standard error
from the true parameters and the drawn scores, check it is small (the test can tell a
wrong estimate), and accept 4 of them (a correct estimator misses with probability
~6e-5 per parameter).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.special import expit, softmax

from crowdwise.calibration import TemperatureScaling, VectorScaling, simulate_ai
from crowdwise.errors import ConvergenceWarning, InputError


def test_temperature_by_hand_top1():
    # four votes at 0.9 among K = 3, half of them right: calibrated score 1/2, so
    # sigmoid(log(18) / T - log 2) = 1/2 and T = log 18 / log 2
    ts = TemperatureScaling().fit([0.9] * 4, [0, 1, 2, 2], predicted=[0, 1, 0, 1], n_classes=3)
    assert ts.temperature_ == pytest.approx(math.log(18) / math.log(2), rel=1e-5)
    assert ts.transform([0.9])[0] == pytest.approx(0.5, abs=1e-6)
    # NLL per vote: right ones -log p, wrong ones -log((1 - p) / 2)
    assert ts.nll_before_ == pytest.approx((-math.log(0.9) - math.log(0.05)) / 2)
    assert ts.nll_after_ == pytest.approx((-math.log(0.5) - math.log(0.25)) / 2, rel=1e-6)
    assert ts.n_samples_ == 4 and ts.n_classes_ == 3 and ts.top1_


def test_temperature_one_is_the_identity_and_the_formula_holds():
    ts = TemperatureScaling()
    ts.temperature_, ts.n_classes_, ts.top1_ = 1.0, 7, True
    p = np.array([0.05, 0.3, 0.6, 0.999])
    assert np.allclose(ts.transform(p), p)
    ts.temperature_ = 2.0
    m = np.log(p) - np.log((1 - p) / 6)
    assert np.allclose(ts.transform(p), 1 / (1 + 6 * np.exp(-m / 2)))


def test_top1_is_the_temperature_scaling_of_the_implied_vector():
    rng = np.random.default_rng(3)
    k, n = 6, 3000
    label, score = simulate_ai(rng.integers(0, k, n), k, temperature=1.7, random_state=3)
    truth = rng.integers(0, k, n)
    truth[: n // 2] = label[: n // 2]
    vec = np.tile(((1 - score) / (k - 1))[:, None], (1, k))
    vec[np.arange(n), label] = score
    top1 = TemperatureScaling().fit(score, truth, predicted=label, n_classes=k)
    full = TemperatureScaling().fit(vec, truth)
    assert top1.temperature_ == pytest.approx(full.temperature_, rel=1e-5)
    assert top1.nll_after_ == pytest.approx(full.nll_after_, rel=1e-9)
    assert np.allclose(full.transform(vec)[np.arange(n), label], top1.transform(score), atol=1e-9)


@pytest.mark.parametrize("t_true", [0.6, 2.5])
def test_temperature_recovered_from_top1_scores(t_true):
    rng = np.random.default_rng(int(t_true * 10))
    k, n = 10, 20_000
    truth = rng.integers(0, k, n)
    label, score = simulate_ai(truth, k, temperature=t_true, random_state=rng)
    ts = TemperatureScaling().fit(score, truth, predicted=label, n_classes=k)
    # Fisher information of a = 1/T: sum p(1-p) m^2, with the calibrated probabilities p
    m = np.log(score) - np.log((1 - score) / (k - 1))
    p = expit(m / t_true - math.log(k - 1))
    se_t = t_true**2 / math.sqrt(np.sum(p * (1 - p) * m**2))
    assert se_t < 0.02 * t_true
    assert abs(ts.temperature_ - t_true) < 4 * se_t
    assert ts.nll_after_ < ts.nll_before_


def test_temperature_recovered_from_logit_vectors():
    rng = np.random.default_rng(1)
    n, k, t_true = 20_000, 5, 2.0
    z = rng.normal(0, 3, size=(n, k))                  # the network's logits
    q = softmax(z / t_true, axis=1)                     # the true class distribution
    y = (rng.random(n)[:, None] > np.cumsum(q, axis=1)).sum(axis=1)
    ts = TemperatureScaling(space="logit").fit(z, y)
    # Fisher information of a = 1/T: sum_i Var_{k ~ q_i}(z_ik)
    info = np.sum(np.sum(q * z**2, axis=1) - np.sum(q * z, axis=1) ** 2)
    se_t = t_true**2 / math.sqrt(info)
    assert se_t < 0.02 * t_true and abs(ts.temperature_ - t_true) < 4 * se_t
    # probabilities in, the same answer: log p differs from z by a constant per row
    ts_p = TemperatureScaling().fit(softmax(z, axis=1), y)
    assert ts_p.temperature_ == pytest.approx(ts.temperature_, rel=1e-4)
    assert np.allclose(ts.transform(z), softmax(z / ts.temperature_, axis=1))


def test_vector_scaling_recovers_per_class_parameters_top1():
    rng = np.random.default_rng(5)
    k, n = 4, 60_000
    a_true = np.array([0.4, 0.8, 1.5, 2.5])
    b_true = np.array([0.5, -0.3, 0.0, -1.0])
    pred = rng.integers(0, k, n)
    m = rng.normal(math.log(k - 1) + 0.5, 2.0, n)
    s = a_true[pred] * m + b_true[pred] - math.log(k - 1)
    right = rng.random(n) < expit(s)
    truth = np.where(right, pred, (pred + rng.integers(1, k, n)) % k)
    score = expit(m - math.log(k - 1))              # the margin of this score is m
    vs = VectorScaling().fit(score, truth, predicted=pred, n_classes=k)
    assert vs.converged_
    w = expit(s) * (1 - expit(s))
    for c in range(k):
        sel = pred == c
        info = np.array([[np.sum(w[sel] * m[sel] ** 2), np.sum(w[sel] * m[sel])],
                         [np.sum(w[sel] * m[sel]), np.sum(w[sel])]])
        se_a, se_b = np.sqrt(np.diag(np.linalg.inv(info)))
        assert se_a < 0.05 and se_b < 0.1
        assert abs(vs.scale_[c] - a_true[c]) < 4 * se_a, (c, vs.scale_, a_true)
        assert abs(vs.bias_[c] - b_true[c]) < 4 * se_b, (c, vs.bias_, b_true)
    # the calibrated score is the model's probability
    assert np.allclose(vs.transform(score[:50], predicted=pred[:50]),
                       expit(vs.scale_[pred[:50]] * m[:50] + vs.bias_[pred[:50]] - math.log(k - 1)), atol=1e-6)
    assert vs.nll_after_ < vs.nll_before_


def test_vector_scaling_recovers_per_class_parameters_vectors():
    rng = np.random.default_rng(2)
    n, k = 30_000, 3
    a_true, b_true = np.array([0.5, 1.0, 2.0]), np.array([0.4, 0.0, -0.4])
    z = rng.normal(0, 1.5, size=(n, k))
    q = softmax(z * a_true + b_true, axis=1)
    y = (rng.random(n)[:, None] > np.cumsum(q, axis=1)).sum(axis=1)
    vs = VectorScaling(space="logit").fit(z, y)
    # Fisher information of (a, b): sum_i J_i' (diag q_i - q_i q_i') J_i with J_i = [diag z_i, I]
    cov = np.einsum("ij,jk->ijk", q, np.eye(k)) - np.einsum("ij,ik->ijk", q, q)
    jac = np.concatenate([np.einsum("ij,jk->ijk", z, np.eye(k)), np.broadcast_to(np.eye(k), (n, k, k))], axis=2)
    info = np.einsum("iak,iab,ibl->kl", jac, cov, jac)
    # the biases are known up to a constant: measured against the last one, whose column goes
    se = np.sqrt(np.diag(np.linalg.inv(info[:-1, :-1])))
    assert se.max() < 0.05
    assert np.all(np.abs(vs.scale_ - a_true) < 4 * se[:k]), (vs.scale_, se)
    assert np.all(np.abs((vs.bias_ - vs.bias_[-1]) - (b_true - b_true[-1]))[:-1] < 4 * se[k:]), (vs.bias_, se)


def test_a_class_never_predicted_keeps_the_pooled_temperature():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 5000)
    label, score = simulate_ai(truth, 2, temperature=2.0, random_state=0)   # class 2 of 3 is never voted
    vs = VectorScaling().fit(score, truth, predicted=label, n_classes=3)
    assert vs.scale_[2] == pytest.approx(1 / vs.temperature_, rel=1e-4) and vs.bias_[2] == pytest.approx(0, abs=1e-4)


def test_bound_reached_warns():
    with pytest.warns(ConvergenceWarning, match="bound"):
        TemperatureScaling().fit([0.9, 0.8, 0.7], [0, 1, 2], predicted=[0, 1, 2], n_classes=3)  # all right


@pytest.mark.parametrize("call, match", [
    (lambda: TemperatureScaling().fit([0.5, 0.7], [0, 1], n_classes=3), "predicted="),
    (lambda: TemperatureScaling().fit([0.5, 0.7], [0, 1], predicted=[0, 1]), "n_classes"),
    (lambda: TemperatureScaling().fit([0.5, 1.7], [0, 1], predicted=[0, 1], n_classes=3), "not a probability"),
    (lambda: TemperatureScaling().fit([0.5, np.nan], [0, 1], predicted=[0, 1], n_classes=3), "row 1"),
    (lambda: TemperatureScaling().fit([0.5, 0.7], [-1, -1], predicted=[0, 1], n_classes=3), "no sample"),
    (lambda: TemperatureScaling().fit([0.5, 0.7], [0, 3], predicted=[0, 1], n_classes=3), "not a class index"),
    (lambda: TemperatureScaling().fit([0.5, 0.7], [0, 1], predicted=[0, 1], n_classes=1), "at least 2"),
    (lambda: TemperatureScaling(bounds=(2, 1)).fit([0.5], [0], predicted=[0], n_classes=3), "bounds"),
    (lambda: TemperatureScaling(space="logit").fit([0.5], [0], predicted=[0], n_classes=3), "space='logit'"),
    (lambda: TemperatureScaling().transform([0.5]), "not fitted"),
    (lambda: VectorScaling(reg=-1).fit([0.5], [0], predicted=[0], n_classes=3), "reg"),
    (lambda: VectorScaling().fit([0.6, 0.7], [0, 1], predicted=[0, 0], n_classes=2).transform([0.5]), "predicted="),
    (lambda: TemperatureScaling().fit([[0.5, 0.5]], [0]).transform([0.5]), "fitted on score vectors"),
])
def test_bad_input_is_a_clear_error(call, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.raises(InputError, match=match):
            call()


def test_estimator_conventions():
    ts = TemperatureScaling(bounds=(0.1, 10))
    assert ts.get_params() == {"bounds": (0.1, 10), "space": "proba"}
    assert ts.set_params(space="logit").space == "logit"
    assert not hasattr(ts, "temperature_")
    assert repr(VectorScaling()) == "VectorScaling(reg=1.0, bounds=(0.01, 100.0), space='proba', max_iter=500)"


def test_vector_scaling_top1_is_at_the_penalised_optimum():
    # a few classes with 3 to 3000 trusted scores: the gradient of the penalised NLL is 0 at the fit
    rng = np.random.default_rng(7)
    k = 5
    pred = np.repeat(np.arange(k), [3000, 800, 100, 12, 3])
    m = rng.normal(2.5, 1.5, pred.size)
    right = rng.random(pred.size) < expit(0.6 * m - math.log(k - 1))
    truth = np.where(right, pred, (pred + 1) % k)
    score = expit(m - math.log(k - 1))
    vs = VectorScaling(reg=2.0).fit(score, truth, predicted=pred, n_classes=k)
    a0 = 1 / vs.temperature_
    s = vs.scale_[pred] * m + vs.bias_[pred] - math.log(k - 1)
    r = expit(s) - right
    ga = np.bincount(pred, weights=r * m, minlength=k) + 2.0 * (vs.scale_ - a0)
    gb = np.bincount(pred, weights=r, minlength=k) + 2.0 * vs.bias_
    n_k = np.bincount(pred, minlength=k)
    assert vs.converged_ and np.abs(ga / n_k).max() < 1e-7 and np.abs(gb / n_k).max() < 1e-7, (ga, gb)
    # the fewer the scores, the nearer the pooled temperature
    assert abs(vs.scale_[4] - a0) < abs(vs.scale_[0] - a0) or abs(vs.scale_[0] - a0) < 0.02
