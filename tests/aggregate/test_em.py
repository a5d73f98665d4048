"""The shared EM helpers of crowdwise.aggregate._em, checked against hand values."""

import math

import numpy as np
import pytest

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
    from crowdwise.aggregate._driver import sum_squares

    x = np.arange(12.0).reshape(4, 3) - 5.5
    assert sum_squares(x) == float((x ** 2).sum())
    assert sum_squares(np.zeros((0, 3))) == 0.0


# ---------------------------------------------------------------- the float32 exp
def test_fast_exp_is_within_its_stated_error_and_keeps_tiny_values():
    from crowdwise.aggregate._em import exp_nonpositive

    rng = np.random.default_rng(3)
    x = rng.uniform(-120.0, 0.0, 200_003)  # several blocks and a ragged last one
    x[::5] = -np.inf
    x[1:40:7] = [0.0, -1e-300, -86.0, -88.0, -700.0, -746.0]  # edges: 1, float32 cut, underflow
    x[50] = -1e300  # below float32's range
    exact = np.exp(x)
    got = exp_nonpositive(x.copy())
    assert not np.isnan(got).any()
    finite = np.isfinite(x)
    normal = finite & (x > -87.33)  # float32's normal range: x > log(1.1755e-38) = -87.3365
    # the stated bound: 2e-7 + 6e-8 |x| relative
    rel = np.abs(got[normal] / exact[normal] - 1.0)
    assert (rel <= 3e-7 + 6e-8 * np.abs(x[normal])).all(), rel.max()  # the documented bound
    assert rel.max() > 0  # the float32 path ran (a plain np.exp would be exact)
    # below float32's normal range: the exact float64 value, not a zero
    below = finite & (x < -87.34)
    np.testing.assert_array_equal(got[below], exact[below])
    assert got[1 + 7 * 4] > 0 and got[50] == 0.0 and (got[~finite] == 0.0).all()


def test_fast_exp_falls_back_to_the_exact_exp():
    from crowdwise.aggregate._em import exp_nonpositive

    x = np.linspace(-50.0, 0.0, 1000)  # small: below the size where blocks pay off
    np.testing.assert_array_equal(exp_nonpositive(x.copy()), np.exp(x))
    big = np.linspace(-50.0, 0.0, 100_000)
    np.testing.assert_array_equal(exp_nonpositive(big.copy(), fast=False), np.exp(big))
    x32 = big.astype(np.float32)  # not float64: plain exp
    np.testing.assert_array_equal(exp_nonpositive(x32.copy()), np.exp(x32))


def test_fast_log_is_within_its_stated_error_and_keeps_tiny_values():
    from crowdwise.aggregate._em import log_nonnegative

    rng = np.random.default_rng(5)
    x = np.exp(rng.uniform(-85.0, 85.0, 200_003))  # several blocks and a ragged last one
    x[::6] = 0.0
    x[1:50:7] = [1.0, 1e-300, 1e-39, 2e-38, 1e300, 5e38, np.nextafter(0, 1)]  # edges
    exact = np.full_like(x, -np.inf)
    exact[x > 0] = np.log(x[x > 0])
    got = log_nonnegative(x.copy())
    assert not np.isnan(got).any()
    normal = (x >= np.finfo(np.float32).tiny) & (x <= np.finfo(np.float32).max)
    err = np.abs(got[normal] - exact[normal])
    assert (err <= 1e-7 + 1.5e-7 * np.abs(exact[normal])).all(), err.max()  # the documented bound
    assert err.max() > 0  # the float32 path ran (a plain np.log would be exact)
    # zeros are -inf; outside float32's normal range: the exact float64 value, finite
    assert (got[x == 0] == -np.inf).all()
    odd = (x > 0) & ~normal
    assert odd.sum() >= 5
    np.testing.assert_array_equal(got[odd], exact[odd])


def test_fast_log_falls_back_to_the_exact_log():
    from crowdwise.aggregate._em import log_nonnegative

    x = np.linspace(0.0, 5.0, 1000)  # small: below the size where blocks pay off
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(log_nonnegative(x.copy()), np.log(x))
        big = np.linspace(0.0, 5.0, 100_000)
        np.testing.assert_array_equal(log_nonnegative(big.copy(), fast=False), np.log(big))
        x32 = big.astype(np.float32)  # not float64: plain log
        np.testing.assert_array_equal(log_nonnegative(x32.copy()), np.log(x32))


def test_log_normalize_fast_exp_matches_the_exact_softmax():
    rng = np.random.default_rng(4)
    L = rng.normal(0.0, 20.0, (30_000, 7))
    L[rng.random(L.shape) < 0.3] = -np.inf
    L[0] = -np.inf
    exact_T, exact_ln = log_normalize(L.copy())
    T, ln = log_normalize(L.copy(), fast_exp=True)
    # each value within exp_nonpositive's bound at its shifted score, plus the row sum's
    shifted = L - np.max(np.where(np.isfinite(L), L, -1e308), axis=1, keepdims=True)
    pos = exact_T > 0
    rel = np.abs(T[pos] / exact_T[pos] - 1.0)
    assert (rel <= 6e-7 + 6e-8 * np.abs(shifted[pos])).all(), rel.max()
    assert (T[~pos] == 0).all()
    np.testing.assert_allclose(ln[1:], exact_ln[1:], rtol=0, atol=1e-6)
    np.testing.assert_allclose(T.sum(axis=1), 1.0, rtol=1e-12)
    assert not np.array_equal(T, exact_T)  # the fast path ran


# ---------------------------------------------------------------- threads
def test_n_threads_follows_n_jobs(monkeypatch):
    import crowdwise.aggregate._em as em

    monkeypatch.setattr(em, "available_cores", lambda: 4)
    big = 10 * em.MIN_CELLS_PER_THREAD
    assert em.n_threads(None, big, 10**6) == 4
    assert em.n_threads(None, 2 * em.MIN_CELLS_PER_THREAD, 10**6) == 2  # one per 2^17 cells
    assert em.n_threads(None, 1000, 100) == 1  # small data: one thread
    assert em.n_threads(1, big, 10**6) == 1
    assert em.n_threads(3, 10, 10**6) == 3  # asked for: not limited by the cell count
    assert em.n_threads(-1, 10, 10**6) == 4 and em.n_threads(-2, 10, 10**6) == 3
    assert em.n_threads(-9, 10, 10**6) == 1
    assert em.n_threads(8, big, 5) == 5  # never more threads than rows


def test_check_n_jobs_rejects_what_is_not_a_thread_count():
    import pytest

    from crowdwise.aggregate._em import check_n_jobs
    from crowdwise.errors import InputError

    for ok in (None, 1, 2, -1, np.int64(3)):
        check_n_jobs(ok)
    for bad in (0, 1.5, "2", True):
        with pytest.raises(InputError, match="n_jobs"):
            check_n_jobs(bad)


def test_csr_row_blocks_cover_the_rows_and_multiply_like_the_whole():
    from scipy import sparse

    from crowdwise.aggregate._em import csr_row_blocks, run_blocks

    rng = np.random.default_rng(5)
    m = sparse.csr_array(sparse.random(1001, 40, density=0.05, format="csr", random_state=6))
    X = rng.random((40, 3))
    for nb in (1, 2, 3, 7):
        blocks = csr_row_blocks(m, nb)
        assert 1 <= len(blocks) <= nb
        assert blocks[0][0].start == 0 and blocks[-1][0].stop == 1001
        assert all(a[0].stop == b[0].start for a, b in zip(blocks[:-1], blocks[1:]))
        out = np.full((1001, 3), np.nan)

        def one(i, blocks=blocks, out=out):
            sl, view = blocks[i]
            out[sl] = view @ X

        run_blocks(one, len(blocks))
        np.testing.assert_array_equal(out, m @ X)
        for _, view in blocks:  # views into m's arrays, not copies
            assert np.shares_memory(view.data, m.data) and np.shares_memory(view.indices, m.indices)
        if nb > 1:  # about equal numbers of entries per block
            nnz = [v.nnz for _, v in blocks]
            assert max(nnz) - min(nnz) <= 0.05 * m.nnz + 40
    empty = sparse.csr_array((0, 4))
    assert csr_row_blocks(empty, 2) == []


def test_run_blocks_propagates_errors():
    import pytest

    from crowdwise.aggregate._em import run_blocks

    def boom(i):
        if i == 1:
            raise ValueError("block 1")

    with pytest.raises(ValueError, match="block 1"):
        run_blocks(boom, 3)


def test_add_csr_product_adds_into_the_given_rows():
    from scipy import sparse

    from crowdwise.aggregate._em import add_csr_product, csr_row_blocks

    rng = np.random.default_rng(9)
    A = sparse.csr_array(sparse.random(300, 50, density=0.1, random_state=10, format="csr"))
    X = rng.normal(size=(50, 4))
    X[3, 1] = -np.inf  # an impossible answer stays -inf
    start = rng.normal(size=(300, 4))
    with np.errstate(invalid="ignore"):
        want = start + A @ X
    out = start.copy()
    with np.errstate(invalid="ignore"):
        for sl, view in csr_row_blocks(A, 3):
            add_csr_product(view, X, out[sl])  # a row block of a bigger array, in place
    # the kernel adds each product onto the start value (another order than start + A @ X)
    np.testing.assert_allclose(out, want, rtol=1e-13, atol=1e-13)
    assert np.isneginf(out).sum() == np.isneginf(want).sum() > 0
    # inputs the kernel cannot take go through A @ X: a strided out, float32 X
    strided = np.zeros((4, 300)).T
    add_csr_product(A, np.nan_to_num(X, neginf=0.0), strided)
    np.testing.assert_allclose(strided, A @ np.nan_to_num(X, neginf=0.0))
    out32 = np.zeros((300, 4))
    add_csr_product(A, np.nan_to_num(X, neginf=0.0).astype(np.float32), out32)
    np.testing.assert_allclose(out32, A @ np.nan_to_num(X, neginf=0.0).astype(np.float32), rtol=1e-6)


def _budget_message(n_bytes: float, budget: float) -> str:
    from crowdwise.aggregate._em import check_budget
    from crowdwise.errors import TooLargeError

    try:
        check_budget("DS", n_bytes, budget, what="the confusions", alternatives="MV")
    except TooLargeError as exc:
        return str(exc)
    raise AssertionError("check_budget did not refuse")


def test_budget_message_sizes_take_a_unit_that_tells_them_apart():
    import re

    def sizes(msg: str) -> list[str]:
        return re.findall(r"(\d[\d.]* (?:B|KiB|MiB|GiB|TiB))", msg)

    # a tiny budget used to read "about 0.0 GiB ..., above the memory budget of 0.0 GiB"
    assert sizes(_budget_message(1500, 1000)) == ["1.5 KiB", "1000 B"]
    assert sizes(_budget_message(3 * 8.0 * 2 * 2000 ** 2, 1e6)) == ["183.1 MiB", "976.6 KiB"]
    assert sizes(_budget_message(10, 1)) == ["10 B", "1 B"]
    assert sizes(_budget_message(5 * 2 ** 30, 4 * 2 ** 30)) == ["5.0 GiB", "4.0 GiB"]
    # as many decimals as it takes for the need to read above the budget
    assert sizes(_budget_message(1025 * 1024, 1024 * 1024 + 1)) == ["1.001 MiB", "1.000 MiB"]
    a, b = sizes(_budget_message(2 ** 30 + 1, 2 ** 30))
    assert a != b and a.endswith("GiB") and b.endswith("GiB")
    assert sizes(_budget_message(1e6, 0)) == ["976.6 KiB", "0 B"]


def test_a_strategy_refused_by_a_tiny_budget_gives_two_distinct_sizes():
    from crowdwise import Votes
    from crowdwise.aggregate import DawidSkene
    from crowdwise.errors import TooLargeError

    votes = Votes.from_records([0, 1], [0, 1], [0, 1], n_classes=20)
    with pytest.raises(TooLargeError) as err:
        DawidSkene(memory_budget=1000, sparse=False).fit(votes)  # 3 x 8 x 2 x 20^2 = 19,200 B
    msg = str(err.value)
    assert "about 18.8 KiB for 2 workers x 20^2 confusion entries, above the memory budget of 1000 B" in msg
    assert "0.0 GiB" not in msg
