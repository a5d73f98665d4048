"""The shared EM helpers of crowdwise.aggregate._em, checked against hand values."""

import math

import numpy as np

from crowdwise.aggregate._em import log_normalize


def test_log_normalize_matches_the_softmax_by_hand():
    L = np.array([[0.0, math.log(3.0)], [-2.0, -2.0], [5.0, -np.inf]])
    T, lognorm = log_normalize(L.copy())
    np.testing.assert_allclose(T, [[0.25, 0.75], [0.5, 0.5], [1.0, 0.0]], rtol=1e-15)
    np.testing.assert_allclose(lognorm, [math.log(4.0), -2.0 + math.log(2.0), 5.0], rtol=1e-15)
    assert T[2, 1] == 0.0  # an impossible class keeps an exact zero


def test_tiny_posteriors_are_exact_down_to_underflow():
    # shifted scores 0, -1, -700 and -720 (a subnormal, 1.9e-313) are exponentiated as
    # they are; -800 underflows to 0, as does -inf; a row of -inf is uniform
    L = np.array([[0.0, -1.0, -700.0, -720.0, -800.0, -np.inf], [-np.inf] * 6])
    T, lognorm = log_normalize(L.copy())
    z = 1.0 + math.exp(-1.0) + math.exp(-700.0)
    np.testing.assert_allclose(T[0, :3], np.array([1.0, math.exp(-1.0), math.exp(-700.0)]) / z, rtol=1e-14)
    assert 0.0 < T[0, 3] < np.finfo(float).tiny and T[0, 4] == 0.0 and T[0, 5] == 0.0
    np.testing.assert_array_equal(T[1], np.full(6, 1 / 6))
    assert lognorm[1] == -np.inf and not np.isnan(T).any()


def test_log_normalize_overwrite_reuses_the_buffer_and_leaves_the_input_otherwise():
    L = np.array([[1.0, 2.0, 3.0]])
    keep = L.copy()
    T, _ = log_normalize(L)
    np.testing.assert_array_equal(L, keep)  # not overwritten by default
    T2, _ = log_normalize(L, overwrite=True)
    assert np.shares_memory(T2, L)
    np.testing.assert_allclose(T2, T)


def test_sum_squares_matches_the_definition():
    from crowdwise.aggregate.dawid_skene import _sum_squares

    x = np.arange(12.0).reshape(4, 3) - 5.5
    assert _sum_squares(x) == float((x ** 2).sum())
    assert _sum_squares(np.zeros((0, 3))) == 0.0
