"""Pl@ntNet aggregation: hand-computed iterations, AI variants, a loop reference, scale.

Notation in the comments: g = gamma = log(2.1) = 0.74194, f(n) = sqrt(n) - n**0.2 + g, so
f(0) = f(1) = g, f(2) = 1.00745, f(7) = 1.91192, f(8) = 2.05465, f(10) = 2.31932.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import sparse

from crowdwise import Votes
from crowdwise.aggregate import dense_probas, make_strategy
from crowdwise.aggregate.plantnet import AI_MODES, PENALTIES, PlantNet, plantnet_weight
from crowdwise.aggregate.registry import get_strategy
from crowdwise.errors import InputError
from crowdwise.testing import check_strategy

G = float(np.log(2.1))
F2 = float(np.sqrt(2) - 2**0.2 + G)


def V(task, worker, label, **kw):
    return Votes.from_records(task, worker, label, **kw)


# --------------------------------------------------------------------------- weight function
def test_weight_function():
    assert plantnet_weight(0) == pytest.approx(G) and plantnet_weight(1) == pytest.approx(G)
    assert plantnet_weight(2) == pytest.approx(1.00745255, abs=1e-8)
    # self-validating (f(n) > theta_conf = 2) from 8 species on
    assert plantnet_weight(7) < 2 < plantnet_weight(8)
    assert np.all(np.diff(plantnet_weight(np.arange(200))) >= 0)


# --------------------------------------------------------------------------- hand-computed
# Four observations, four users A B C D, classes 0..3 (3 never voted), theta_conf = 1.4 so
# that two newcomers (2g = 1.484) can validate. (author in capitals)
#   o0: A*:1  B:1          o1: A*:2  C:2
#   o2: D*:0  A:1          o3: C*:0  B:0  D:2
HAND_T = ["o0", "o0", "o1", "o1", "o2", "o2", "o3", "o3", "o3"]
HAND_W = ["A", "B", "A", "C", "D", "A", "C", "B", "D"]
HAND_L = [1, 1, 2, 2, 0, 1, 0, 0, 2]
HAND_AUTHOR = [True, False, True, False, True, False, True, False, False]


def hand_votes(author=HAND_AUTHOR):
    extra = None if author is None else {"author": author}
    return V(HAND_T, HAND_W, HAND_L, n_classes=4, extra=extra)


def test_hand_computed_iterations():
    # start: w = g for all, labels = MV = [1, 2, 0 (tie 0/1 -> smallest), 0]
    # round 1: conf = [2g, 2g, g, 2g], acc = [1, 1, 1/2, 2/3] -> valid [T, T, F, F]
    #   A: authored valid o0 (species 1) and o1 (species 2) -> n_A = 2; its vote 1 on o2 is wrong
    #   B: voter species {1 (o0), 0 (o3)} -> round(0.2) = 0 ; C: voter {2}, o3 authored but
    #   invalid -> 0 ; D: o2 authored but invalid, o3 wrong -> 0
    #   w = [f(2), g, g, g] -> o2: A (1.007) beats D (0.742): labels [1, 2, 1, 0]
    # round 2: conf = [f2+g, f2+g, f2, 2g], acc = [1, 1, f2/(f2+g) = 0.576, 2/3] -> [T, T, F, F]
    #   A's vote 1 on o2 is now right but species 1 is already counted as author: n unchanged
    #   labels unchanged -> converged after 2 rounds
    m = PlantNet(theta_conf=1.4).fit(hand_votes())
    assert m.labels_.tolist() == [1, 2, 1, 0]
    assert m.valid_.tolist() == [True, True, False, False]
    assert m.n_correct_.tolist() == [2, 0, 0, 0]
    np.testing.assert_allclose(m.weights_, [F2, G, G, G], rtol=1e-12)
    np.testing.assert_allclose(m.confidence_, [F2 + G, F2 + G, F2, 2 * G], rtol=1e-12)
    np.testing.assert_allclose(m.accuracy_, [1, 1, F2 / (F2 + G), 2 / 3], rtol=1e-12)
    assert (m.n_iter_, m.converged_) == (2, True)
    np.testing.assert_allclose(dense_probas(m.probas_), [
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [G / (F2 + G), F2 / (F2 + G), 0, 0],
        [2 / 3, 0, 1 / 3, 0],
    ], rtol=1e-12)
    # one round only: the flip has happened, the loop has not checked it is stable
    m1 = PlantNet(theta_conf=1.4, max_iter=1).fit(hand_votes())
    assert m1.labels_.tolist() == [1, 2, 1, 0] and (m1.n_iter_, m1.converged_) == (1, False)
    # default theta_conf = 2: no pair of newcomers validates, nobody gains weight, MV stays
    m2 = PlantNet().fit(hand_votes())
    assert m2.labels_.tolist() == [1, 2, 0, 0] and not m2.valid_.any() and m2.n_correct_.sum() == 0


def test_authorship_flips_a_label():
    # same votes, but o0 is authored by B and o1 by C: A only *voted* for species 1 and 2
    # round 1: A -> round(0.1 * 2) = 0 ; B: authored valid o0 (1) + voter o3 (0) -> round(1.1) = 1
    #          C: authored valid o1 (2) -> 1 ; D -> 0.  f(1) = f(0) = g: weights all g,
    #          so o2 stays tied and goes to the smallest class, 0 (A's vote 1 loses)
    author = [False, True, False, True, True, False, True, False, False]
    m = PlantNet(theta_conf=1.4).fit(hand_votes(author))
    assert m.labels_.tolist() == [1, 2, 0, 0]
    assert m.n_correct_.tolist() == [0, 1, 1, 0]
    np.testing.assert_allclose(m.weights_, G)


def test_without_author_column_every_vote_is_authored():
    # every vote authored: A -> species 1, 2 on valid o0, o1 -> 2 ; B -> 1 (o0) ; C -> 1 (o1) ;
    # D -> 0 (o2, o3 invalid). Weights [f2, g, g, g]: o2 flips to A's 1 as in the main case
    m = PlantNet(theta_conf=1.4).fit(hand_votes(author=None))
    assert m.labels_.tolist() == [1, 2, 1, 0]
    assert m.n_correct_.tolist() == [2, 1, 1, 0]
    assert m.valid_.tolist() == [True, True, False, False]


def _voter_crowd(n_vote_species: int, own_species: int | None):
    """User V votes on n observations of species 0..n-1 authored by others (who agree);
    optionally V authors one valid observation of ``own_species`` (two helpers agree)."""
    t, w, lab, a = [], [], [], []
    for k in range(n_vote_species):
        t += [f"x{k}", f"x{k}"]
        w += [f"author{k}", "V"]
        lab += [k, k]
        a += [True, False]
    if own_species is not None:
        t += ["own"] * 3
        w += ["V", "h1", "h2"]
        lab += [own_species] * 3
        a += [True, False, False]
    return V(t, w, lab, n_classes=max(n_vote_species, 1) + 1, extra={"author": a})


@pytest.mark.parametrize("n_species, expected", [(4, 0), (5, 1), (14, 1), (15, 2), (25, 3)])
def test_voted_species_count_a_tenth_and_halves_round_up(n_species, expected):
    m = PlantNet().fit(_voter_crowd(n_species, None))
    v = list(m.worker_ids_).index("V")
    assert m.n_correct_[v] == expected  # round(n / 10), 0.5 -> 1, 1.5 -> 2, 2.5 -> 3


def test_species_counted_once_as_author_first():
    # V authors a valid observation of species 0 and votes species 0..14 on others':
    # n_author = 1, n_vote = 14 (species 0 already counted) -> round(2.4) = 2, not round(2.5) = 3
    m = PlantNet().fit(_voter_crowd(15, own_species=0))
    v = list(m.worker_ids_).index("V")
    assert m.n_correct_[v] == 2
    assert m.weights_[v] == pytest.approx(F2)
    # vote_factor is the value of a voted species: 1 -> 1 + 14
    m = PlantNet(vote_factor=1.0).fit(_voter_crowd(15, own_species=0))
    assert m.n_correct_[v] == 15


def test_validity_thresholds_are_strict():
    # alpha = beta, gamma = 1: every weight is exactly 1, confidences are vote counts
    const = dict(alpha=1.0, beta=1.0, gamma=1.0)
    t = ["two"] * 2 + ["three"] * 3 + ["seven"] * 10 + ["eight"] * 10
    lab = [0] * 2 + [0] * 3 + [0] * 7 + [1] * 3 + [0] * 8 + [1] * 2
    v = V(t, [f"u{i}" for i in range(len(t))], lab, n_classes=2)
    m = PlantNet(**const).fit(v)
    res = dict(zip(v.task_ids, zip(m.confidence_, m.accuracy_, m.valid_)))
    assert res["two"] == (2.0, 1.0, False)     # conf = 2 is not > 2
    assert res["three"] == (3.0, 1.0, True)
    assert res["seven"] == (7.0, 0.7, False)   # acc = 7/10 = 0.7 is not > 0.7
    assert res["eight"] == (8.0, 0.8, True)
    m = PlantNet(theta_conf=1.999, theta_acc=0.699, **const).fit(v)
    assert m.valid_.all()


@pytest.mark.parametrize("k, solo_valid", [(7, False), (8, True)])
def test_self_validating_from_eight_species(k, solo_valid):
    # E authors k observations of distinct species, each confirmed by two helpers (3g > 2:
    # valid), and one more, "solo", alone. Round 1: n_E = k. Round 2: conf(solo) = f(k):
    # f(7) = 1.912 < 2 < f(8) = 2.055, so solo becomes valid with 8 species only (then n_E = 9).
    t, w, lab, a = [], [], [], []
    for s in range(k):
        t += [f"o{s}"] * 3
        w += ["E", f"h{s}a", f"h{s}b"]
        lab += [s] * 3
        a += [True, False, False]
    t.append("solo")
    w.append("E")
    lab.append(k)
    a.append(True)
    v = V(t, w, lab, n_classes=k + 1, extra={"author": a})
    m = PlantNet().fit(v)
    solo = list(v.task_ids).index("solo")
    e = list(v.worker_ids).index("E")
    assert bool(m.valid_[solo]) is solo_valid
    assert m.n_correct_[e] == (k + 1 if solo_valid else k)
    assert m.converged_ and m.n_iter_ == (3 if solo_valid else 2)


def test_a_cycling_loop_stops_when_a_state_comes_back():
    # X and Z keep invalidating each other's observation (theta_conf 1.4, theta_acc 0.65):
    #   O (X*:a  Y:a  Z:b) acc = (w_X + g) / (w_X + g + w_Z): valid iff Z is light (g)
    #   R (Z*:c  W:c  X:d) the same with X and Z swapped; B1, B2 always valid (X, Z: 1 species)
    # n: (0,0) -> both light, O and R valid -> (2,2) -> both heavy (f(2)), both invalid
    #    -> (1,1) -> light again -> (2,2): a state already seen, round 3 stops the loop
    rows = [("O", "X", "a", 1), ("O", "Y", "a", 0), ("O", "Z", "b", 0),
            ("R", "Z", "c", 1), ("R", "W", "c", 0), ("R", "X", "d", 0),
            ("B1", "X", "s", 1), ("B1", "h1", "s", 0), ("B2", "Z", "t", 1), ("B2", "h2", "t", 0)]
    t, w, lab, a = zip(*rows)
    v = V(t, w, lab, extra={"author": np.array(a, bool)})
    m = PlantNet(theta_conf=1.4, theta_acc=0.65).fit(v)
    assert (m.n_iter_, m.converged_) == (3, False)
    got = dict(zip(v.worker_ids, m.n_correct_.tolist()))
    assert (got["X"], got["Z"]) == (2, 2)
    assert m.max_iter == 100
    ref = loop_reference(v.with_extra(ai_score=np.zeros(len(t))), theta_conf=1.4, theta_acc=0.65)
    assert (ref["n_iter"], ref["converged"]) == (3, False)


# --------------------------------------------------------------------------- AI variants
# Four observations with an AI vote and one without (author in capitals, AI score in []):
#   p: H1*:0  AI:1 [0.9]                   q: H2*:0  H3:0  AI:0 [0.5]
#   r: H4*:2  H5:2  H6:2  AI:3 [0.95]      s: H7*:1  H8:1  H9:1
def ai_votes():
    rows = [("p", "H1", 0, True, 0), ("p", "AI", 1, False, 0.9),
            ("q", "H2", 0, True, 0), ("q", "H3", 0, False, 0), ("q", "AI", 0, False, 0.5),
            ("r", "H4", 2, True, 0), ("r", "H5", 2, False, 0), ("r", "H6", 2, False, 0),
            ("r", "AI", 3, False, 0.95),
            ("s", "H7", 1, True, 0), ("s", "H8", 1, False, 0), ("s", "H9", 1, False, 0)]
    t, w, lab, a, sc = map(list, zip(*rows))
    return V(t, w, lab, n_classes=4, extra={"author": a, "ai_score": np.array(sc, float)})


def results(m, v):
    return {tid: (int(m.labels_[i]), bool(m.valid_[i])) for i, tid in enumerate(v.task_ids)}


def test_ai_ignored_is_the_plain_strategy():
    v = ai_votes()
    m = PlantNet().fit(v)
    # p: g alone; q: 2g = 1.48 < 2; r: 3g = 2.23 > 2, acc 1; s: same
    assert results(m, v) == {"p": (0, False), "q": (0, False), "r": (2, True), "s": (1, True)}
    ai = list(v.worker_ids).index("AI")
    assert m.weights_[ai] == 0 and m.n_correct_[ai] == 0 and m.n_ai_votes_ == 3
    humans = v.take(v.worker != ai)
    m0 = PlantNet().fit(humans)
    np.testing.assert_array_equal(m.labels_, m0.labels_)
    np.testing.assert_array_equal(m.valid_, m0.valid_)


def test_ai_fixed_weight():
    v = ai_votes()
    m = PlantNet(ai="fixed").fit(v)
    # p: AI 1.7 beats g -> label 1, conf 1.7 < 2: an AI never validates alone
    # q: conf 2g + 1.7 = 3.18, acc 1 -> valid ; r: acc 3g / (3g + 1.7) = 0.567 -> invalid
    assert results(m, v) == {"p": (1, False), "q": (0, True), "r": (2, False), "s": (1, True)}
    q = list(v.task_ids).index("q")
    assert m.confidence_[q] == pytest.approx(2 * G + 1.7)
    assert m.weights_[list(v.worker_ids).index("AI")] == 1.7
    assert make_strategy("PlantNet-AIfixed").fit(v).labels_.tolist() == m.labels_.tolist()


def test_ai_invalidating():
    v = ai_votes()
    m = PlantNet(ai="invalidating").fit(v)
    plain = PlantNet().fit(v)
    # labels are the human ones; r (valid without AI) is invalidated by the disagreeing AI:
    # acc = 3g / (3g + 1.7) = 0.567 ; q: the agreeing AI adds nothing, conf 2g stays < 2
    np.testing.assert_array_equal(m.labels_, plain.labels_)
    assert results(m, v) == {"p": (0, False), "q": (0, False), "r": (2, False), "s": (1, True)}
    r, q = list(v.task_ids).index("r"), list(v.task_ids).index("q")
    assert m.accuracy_[r] == pytest.approx(3 * G / (3 * G + 1.7))
    assert m.confidence_[q] == pytest.approx(2 * G) and m.accuracy_[q] == 1.0
    # it can only invalidate: valid with the AI implies valid without it
    assert not np.any(m.valid_ & ~plain.valid_)


def test_ai_confident_threshold():
    v = ai_votes()
    # theta_score 0.7: the AI counts on p (0.9) and r (0.95), not on q (0.5)
    m = PlantNet(ai="confident", theta_score=0.7).fit(v)
    assert results(m, v) == {"p": (1, False), "q": (0, False), "r": (2, False), "s": (1, True)}
    # theta_score 0: the AI always counts -> the fixed-weight strategy
    f = PlantNet(ai="fixed").fit(v)
    c0 = PlantNet(ai="confident", theta_score=0.0).fit(v)
    assert results(c0, v) == results(f, v)


def test_ai_confident_theta_one_is_the_plain_strategy():
    votes = plantnet_crowd(seed=5, n_tasks=300, n_users=60, n_classes=5)
    score = votes.extra["ai_score"].copy()
    score[::7] = 1.0  # a score of exactly 1 must not count either
    votes = votes.with_extra(ai_score=score)
    plain = PlantNet().fit(votes)
    conf = PlantNet(ai="confident", theta_score=1.0).fit(votes)
    human = np.asarray(votes.worker_ids) != "AI"
    np.testing.assert_array_equal(conf.labels_, plain.labels_)
    np.testing.assert_array_equal(conf.valid_, plain.valid_)
    np.testing.assert_array_equal(conf.n_correct_, plain.n_correct_)
    np.testing.assert_array_equal(conf.weights_[human], plain.weights_[human])
    np.testing.assert_array_equal(conf.confidence_, plain.confidence_)
    np.testing.assert_array_equal(dense_probas(conf.probas_), dense_probas(plain.probas_))
    assert plain.valid_.any() and (~plain.valid_).any()


def test_ai_as_worker_gains_weight_and_outvotes_humans():
    # no author column: every vote authored. The AI agrees with two fresh humans on ten
    # observations of distinct species (3g > 2: valid) -> n_AI = 10, w_AI = f(10) = 2.319
    # (each human has 1 species: g). On "c" two humans say 0, the AI says 1: 2.319 > 2g.
    t, w, lab = [], [], []
    for s in range(10):
        t += [f"o{s}"] * 3
        w += [f"h{s}a", f"h{s}b", "AI"]
        lab += [s] * 3
    t += ["c"] * 3
    w += ["x", "y", "AI"]
    lab += [0, 0, 1]
    v = V(t, w, lab, n_classes=10)
    c, ai = list(v.task_ids).index("c"), list(v.worker_ids).index("AI")
    plain = PlantNet().fit(v)
    worker = PlantNet(ai="worker").fit(v)
    assert plain.labels_[c] == 0 and worker.labels_[c] == 1
    assert worker.n_correct_[ai] == 10
    assert worker.weights_[ai] == pytest.approx(np.sqrt(10) - 10**0.2 + G)
    # c: conf 2.319 > 2 but acc 2.319 / (2.319 + 2g) = 0.61 < 0.7
    assert not worker.valid_[c]
    # without the AI the ten observations have 2g = 1.48 < 2: its agreement validated them
    obs = np.array([list(v.task_ids).index(f"o{s}") for s in range(10)])
    assert worker.valid_[obs].all() and not plain.valid_[obs].any()


def test_variants_without_ai_votes_are_the_plain_strategy():
    v = hand_votes()
    plain = PlantNet(theta_conf=1.4).fit(v)
    for ai in AI_MODES:
        m = PlantNet(theta_conf=1.4, ai=ai).fit(v)
        assert m.n_ai_votes_ == 0
        np.testing.assert_array_equal(m.labels_, plain.labels_)
        np.testing.assert_array_equal(m.valid_, plain.valid_)
        np.testing.assert_array_equal(m.weights_, plain.weights_)


def test_ai_worker_id_is_a_parameter():
    v = ai_votes()
    df = v.to_frame()
    df["worker"] = df["worker"].replace({"AI": "model-v2"})
    v2 = V(df["task"], df["worker"], df["label"], n_classes=4,
           extra={"author": df["author"].to_numpy(), "ai_score": df["ai_score"].to_numpy()})
    a = PlantNet(ai="fixed").fit(v)
    b = PlantNet(ai="fixed", ai_worker="model-v2").fit(v2)
    assert results(a, v) == results(b, v2) and b.n_ai_votes_ == 3
    # under the default name, "model-v2" is just one more user
    assert PlantNet(ai="fixed").fit(v2).n_ai_votes_ == 0


# --------------------------------------------------------------------------- loop reference
def plantnet_crowd(seed: int, n_tasks: int = 40, n_users: int = 12, n_classes: int = 4,
                   ai_share: float = 0.7) -> Votes:
    """Random Pl@ntNet-like crowd: an author per observation (its first vote), 0-4 other
    voters, skilled and unskilled users, an AI vote with a score on some observations."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n_tasks)
    skill = rng.uniform(0.3, 0.95, n_users)
    t, w, lab, a, sc = [], [], [], [], []
    for i in range(n_tasks):
        voters = rng.choice(n_users, size=1 + rng.integers(0, 5), replace=False)
        for j, u in enumerate(voters):
            t.append(f"t{i}")
            w.append(f"u{u}")
            lab.append(truth[i] if rng.random() < skill[u] else rng.integers(0, n_classes))
            a.append(j == 0)
            sc.append(0.0)
        if rng.random() < ai_share:
            t.append(f"t{i}")
            w.append("AI")
            lab.append(truth[i] if rng.random() < 0.8 else rng.integers(0, n_classes))
            a.append(False)
            sc.append(float(rng.choice([0.3, 0.6, 0.7, 0.85, 1.0])))
    return V(t, w, lab, n_classes=n_classes, extra={"author": np.array(a), "ai_score": np.array(sc)})


def loop_reference(votes: Votes, theta_conf=2.0, theta_acc=0.7, vote_factor=0.1, ai="ignored",
                   ai_weight=1.7, theta_score=0.7, max_iter=100, tie_credits=False, penalty=None):
    """Plain-Python Pl@ntNet loop, vote by vote, written from the paper's Algorithm 1
    (and the thesis' §4.3.1 for ``penalty``).

    An observation whose top score is tied credits nobody with a species (PlantNet's
    rule); ``tie_credits=True`` is the rule before it: the voters of the class the tie
    rule picked (the smallest index) were credited. A vote below the top of its
    observation is wrong (``penalty="difference"``)."""
    f = lambda n: n**0.5 - n**0.2 + G  # noqa: E731
    K, T, U = votes.n_classes, votes.n_tasks, votes.n_workers
    ai_id = list(votes.worker_ids).index("AI") if "AI" in list(votes.worker_ids) else -1
    author = votes.extra["author"]
    score = votes.extra["ai_score"]
    counted, aside = [], []  # counted: (task, worker, label, fixed weight or None, counts for n, authored)
    for t, u, lab, au, s in zip(votes.task, votes.worker, votes.label, author, score):
        if u != ai_id or ai == "worker":
            counted.append((t, u, lab, None, True, au))
        elif ai == "fixed" or (ai == "confident" and s > theta_score):
            counted.append((t, u, lab, ai_weight, False, au))
        elif ai == "invalidating":
            aside.append((t, lab))
    n = [0] * U
    m = [0.0] * U  # the penalised counts the weights come from
    # penalty constants: distinct species proposed; agreement with the majority vote
    proposed = [set() for _ in range(U)]
    mv = [[0] * K for _ in range(T)]
    for t, u, lab, _, for_n, _ in counted:
        if for_n:
            proposed[u].add(lab)
            mv[t][lab] += 1
    agree, n_own = [0.0] * U, [0] * U
    for t, u, lab, _, for_n, _ in counted:
        if for_n:
            tops = [k for k in range(K) if mv[t][k] == max(mv[t])]
            agree[u] += 1 / len(tops) if lab in tops else 0.0
            n_own[u] += 1

    def rnd(x):
        return int(np.floor(x + 0.5 + 1e-9))

    def penalised(n, n_wrong):
        if penalty == "difference":
            return [float(max(n[u] - n_wrong[u], 0)) for u in range(U)]
        if penalty == "ratio":
            return [n[u] / len(proposed[u]) * n[u] if proposed[u] else 0.0 for u in range(U)]
        if penalty == "accuracy":
            return [agree[u] / n_own[u] * n[u] if n_own[u] else 0.0 for u in range(U)]
        return [float(x) for x in n]

    def weighted_vote():
        sc = [[0.0] * K for _ in range(T)]
        for t, u, lab, fixed, _, _ in counted:
            sc[t][lab] += f(m[u]) if fixed is None else fixed
        labels, tied, tops = [], [], []
        for row in sc:
            top = max(row)
            at_top = [k for k in range(K) if row[k] > 0 and row[k] >= top * (1 - 1e-12)]
            labels.append(at_top[0] if at_top else 0)
            tied.append(len(at_top) != 1)
            tops.append(at_top)
        return sc, labels, tied, tops

    def validity(sc, labels):
        conf = [sc[i][labels[i]] for i in range(T)]
        total = [sum(sc[i]) for i in range(T)]
        for t, lab in aside:
            if lab != labels[t]:
                total[t] += ai_weight
        acc = [conf[i] / total[i] if total[i] > 0 else 0.0 for i in range(T)]
        return conf, acc, [conf[i] > theta_conf and acc[i] > theta_acc for i in range(T)]

    sc, labels, tied, tops = weighted_vote()
    n_wrong = [0] * U
    converged, it, seen = False, 0, {(tuple(n), tuple(m), tuple(labels))}
    for it in range(1, max_iter + 1):
        _, _, valid = validity(sc, labels)
        as_author = [set() for _ in range(U)]
        as_voter = [set() for _ in range(U)]
        wrong_author = [set() for _ in range(U)]
        wrong_voter = [set() for _ in range(U)]
        for t, u, lab, _, for_n, au in counted:
            if for_n and lab == labels[t] and (tie_credits or not tied[t]):
                if au and valid[t]:
                    as_author[u].add(lab)
                elif not au:
                    as_voter[u].add(lab)
            if for_n and lab not in tops[t]:
                if au and valid[t]:
                    wrong_author[u].add(lab)
                elif not au:
                    wrong_voter[u].add(lab)
        new_n = [rnd(len(as_author[u]) + vote_factor * len(as_voter[u] - as_author[u])) for u in range(U)]
        n_wrong = [rnd(len(wrong_author[u]) + vote_factor * len(wrong_voter[u] - wrong_author[u])) for u in range(U)]
        old = (list(n), list(m), list(labels))
        n, m = new_n, penalised(new_n, n_wrong)
        sc, labels, tied, tops = weighted_vote()
        converged = (n, m, labels) == old
        if converged or (tuple(n), tuple(m), tuple(labels)) in seen:
            break
        seen.add((tuple(n), tuple(m), tuple(labels)))
    conf, acc, valid = validity(sc, labels)
    return dict(labels=labels, valid=valid, n=n, conf=conf, acc=acc, n_iter=it, converged=converged, m=m,
                n_wrong=n_wrong)


#: the parameters of the reference cases, by seed of plantnet_crowd
REFERENCE_PARAMS = {0: {}, 1: dict(theta_conf=1.4), 2: dict(vote_factor=1.0), 3: dict(theta_conf=1.4, vote_factor=0.5)}


@pytest.mark.parametrize("ai", AI_MODES)
@pytest.mark.parametrize("seed, params", list(REFERENCE_PARAMS.items()))
def test_matches_a_vote_by_vote_reference(ai, seed, params):
    votes = plantnet_crowd(seed)
    m = PlantNet(ai=ai, **params).fit(votes)
    ref = loop_reference(votes, ai=ai, **params)
    assert m.labels_.tolist() == ref["labels"]
    assert m.valid_.tolist() == ref["valid"]
    assert m.n_correct_.tolist() == ref["n"]
    np.testing.assert_allclose(m.confidence_, ref["conf"], rtol=1e-12)
    np.testing.assert_allclose(m.accuracy_, ref["acc"], rtol=1e-12)
    assert (m.n_iter_, m.converged_) == (ref["n_iter"], ref["converged"])
    assert m.valid_.any()


# The six reference cases in which a tied observation credited a species (the rule before:
# the voters of the class the tie rule picked, the smallest index, as peerannot's argmax)
# and the rule now (a tied observation credits nobody) part. Traced by hand from the
# votes of plantnet_crowd(seed), round by round; author in capitals, f(0) = f(1) = g =
# .742, f(2) = 1.007, f(3) = 1.228, f(4) = 1.422. Seeds 2 and 3 count a voted species
# fully (vote_factor 1) or half (1/2): that is where a tie's credit moves n.
TIE_CREDIT_CASES = {
    # round 1, every weight g: t19 (U2*: 2 | u10: 1) and t11 (U6*: 2, u5: 2 | u9: 0, u8: 0;
    # u10: 3) are ties (g : g, 2g : 2g). The smallest class, 1 and 0, credited the voters
    # u10 with species 1 and u8 with species 0, found on no untied observation:
    # n_u10 = |{0, 1, 3}| = 3 -> |{0, 3}| = 2, n_u8 = |{0, 1, 2, 3}| = 4 -> 3.
    # round 2: t19 is u2 (n 3, f(3)) against u10: before, f(3) again, a tie, 1; now f(2)
    # < f(3): label 2, u2's. t27 (U10*: 1 | u4: 2, u4 at f(2)): before 1.228 > 1.007,
    # label 1; now 1.007 = 1.007, a tie, crediting nobody. u4 gains species 3 (its t34
    # valid) either way: n_u4 = 3.
    # round 3: t27 is u10 against u4 (f(3)): before f(3) = f(3), a tie again (label 1, u4
    # not credited); now f(2) < f(3): label 2 and u4 is credited its voted species 2.
    # t34 (U4*: 3, u3: 3 | u7: 2) turns invalid (u7 reached f(3): acc 2.651 / 3.879 =
    # .683), so u4 loses species 3: before n_u4 = |{0, 1}| = 2, now |{0, 1, 2}| = 3.
    # Before, that round still changed n_u4: a fourth round was needed to see no change.
    (2, "ignored"): dict(tie=("t19", {2: ["u2"], 1: ["u10"]}),
                         n={"u10": (3, 2), "u8": (4, 3), "u4": (2, 3)}, labels={"t19": (1, 2), "t27": (1, 2)},
                         n_iter=(4, 3)),
    # the AI's votes only add to the accuracy denominator: the same trace as "ignored"
    (2, "invalidating"): dict(tie=("t19", {2: ["u2"], 1: ["u10"]}),
                              n={"u10": (3, 2), "u8": (4, 3), "u4": (2, 3)}, labels={"t19": (1, 2), "t27": (1, 2)},
                              n_iter=(4, 3)),
    # the AI's vote 2 on t11 (score .85 > .7, weight 1.7) unties t11 (label 2): neither
    # rule credits u8 with species 0 there. t19's AI vote (score .60) does not count:
    # t19 is tied as above, u10 3 -> 2 and t19 1 -> 2 (u2 f(3) against u10 f(2)); u4
    # does not reach n = 3 here, so t27 does not move.
    (2, "confident"): dict(tie=("t19", {2: ["u2"], 1: ["u10"]}),
                           n={"u10": (3, 2)}, labels={"t19": (1, 2)}, n_iter=(3, 3)),
    # the AI is a user: t9 (U0*: 3, u9: 3, u8: 3 | u2: 2, u6: 2, AI: 2) is tied 3g : 3g in
    # round 1; before, 2 credited u2, u6 and the AI, and u6 has species 2 from nowhere
    # else: n_u6 = 4 (authored 3, voted 0, 1, 2), now 3. In round 2 the weights untie t9
    # (2: 3.879 against 3: 3.685) and u6 gets species 2 from it: n_u6 = 4, the state the
    # old rule had reached in round 1. Same result, one round later.
    (2, "worker"): dict(tie=("t9", {3: ["u0", "u9", "u8"], 2: ["u2", "u6", "AI"]}),
                        n={}, labels={}, n_iter=(2, 3)),
    # theta_conf 1.4, vote_factor 1/2. Round 1's ties credit nobody who needs it (u2:
    # 4 voted species or 3 both round to 2, halves up; u5 already authored its 1). Round
    # 2: t30 (U1*: 3 | u3: 2 | u8: 0), u1 and u3 at n = 2 (f(2)), u8 at g: tied 2 : 3;
    # before, class 2 credited u3: n_u3 = 1 (authored 3) + 1/2 x |{0, 1, 2}| = 2.5 -> 3,
    # now 1 + 1/2 x |{0, 1}| = 2. No label or validity moves (t30 is 2 either way: u3
    # heavier before, the smallest of a tie now).
    (3, "ignored"): dict(tie=("t30", {3: ["u1"], 2: ["u3"], 0: ["u8"]}),
                         n={"u3": (3, 2)}, labels={}, n_iter=(3, 3)),
    # the AI's vote 3 on t30 only adds to the accuracy denominator: the same trace
    (3, "invalidating"): dict(tie=("t30", {3: ["u1"], 2: ["u3"], 0: ["u8"]}),
                              n={"u3": (3, 2)}, labels={}, n_iter=(3, 3)),
}


@pytest.mark.parametrize("seed, ai", list(TIE_CREDIT_CASES))
def test_reference_cases_where_a_tie_credited_a_species(seed, ai):
    """The reference cases the tie rule used to move: every difference between the old rule
    and the new one is the one traced by hand above, and PlantNet gives the new values."""
    votes, params, case = plantnet_crowd(seed), REFERENCE_PARAMS[seed], TIE_CREDIT_CASES[(seed, ai)]
    workers, tasks = list(votes.worker_ids), list(votes.task_ids)
    # the tied observation of the trace, vote by vote (the votes that enter the scores)
    df = votes.to_frame()
    task, by_class = case["tie"]
    rows = df[df["task"] == task]
    if ai != "worker":
        rows = rows[(rows["worker"] != "AI") | ((ai == "confident") & (rows["ai_score"] > 0.7))]
    assert {int(k): sorted(g["worker"]) for k, g in rows.groupby("label")} == \
        {k: sorted(w) for k, w in by_class.items()}
    before = loop_reference(votes, ai=ai, tie_credits=True, **params)
    now = loop_reference(votes, ai=ai, **params)
    assert {workers[u]: (a, b) for u, (a, b) in enumerate(zip(before["n"], now["n"])) if a != b} == case["n"]
    assert {tasks[i]: (a, b) for i, (a, b) in enumerate(zip(before["labels"], now["labels"])) if a != b} == \
        case["labels"]
    assert (before["n_iter"], now["n_iter"]) == case["n_iter"]
    assert before["valid"] == now["valid"] and before["converged"] and now["converged"]
    m = PlantNet(ai=ai, **params).fit(votes)
    assert m.n_correct_.tolist() == now["n"] and m.labels_.tolist() == now["labels"]
    for w, (_, n) in case["n"].items():
        assert m.n_correct_[workers.index(w)] == n
    for t, (_, lab) in case["labels"].items():
        assert m.labels_[tasks.index(t)] == lab
    assert m.n_iter_ == case["n_iter"][1]


def _tie_credit_crowd(classes=None, task_names=None) -> Votes:
    """Five observations t1..t5 tied between p (voting a1..a5) and q (voting b1..b5), and
    x, where p votes a0 against q and r for b0; nobody is the author (vote_factor 1).

    Credit a tie to the smallest class and p identified 5 species when the a's are listed
    first (f(5) = 1.598 > 2g = 1.484: x goes to p, a0), q did when the b's are (x: b0
    by f(5) + g against g): x, untied in both fits, followed the order of the classes.
    A tie credits nobody: p and q weigh g, x is b0 (2g against g) whatever the order."""
    t = [f"t{i}" for i in range(1, 6) for _ in range(2)] + ["x"] * 3
    w = ["p", "q"] * 5 + ["p", "q", "r"]
    lab = [c for i in range(1, 6) for c in (f"a{i}", f"b{i}")] + ["a0", "b0", "b0"]
    if task_names is not None:
        t = [task_names[x] for x in t]
    return V(t, w, lab, classes=classes, extra={"author": np.zeros(len(t), bool)})


def test_a_tie_credits_nobody_so_the_class_order_cannot_move_an_untied_label():
    a_first = [f"a{i}" for i in range(6)] + [f"b{i}" for i in range(6)]
    b_first = a_first[6:] + a_first[:6]
    res = {}
    for name, classes in (("a first", a_first), ("b first", b_first)):
        v = _tie_credit_crowd(classes)
        m = PlantNet(vote_factor=1.0).fit(v)
        x = list(v.task_ids).index("x")
        P = dense_probas(m.probas_)
        assert P[x].max() == pytest.approx(2 / 3)  # b0: 2g of 3g, untied
        res[name] = (str(v.classes[m.labels_[x]]), dict(zip(v.worker_ids, m.n_correct_.tolist())))
    # p and q get no species from the ties; q and r identified b0 on x
    assert res["a first"] == res["b first"] == ("b0", {"p": 0, "q": 1, "r": 1})


def test_a_tie_credits_nobody_so_random_ties_cannot_move_an_untied_label():
    # tie="random": before, each of t1..t5 credited p or q by a draw taken in the order of
    # the tasks, so the seed and the task names decided x; now neither can
    names = {t: t for t in ["t1", "t2", "t3", "t4", "t5", "x"]}
    renamed = {t: f"obs-{9 - i}" for i, t in enumerate(names)}  # listed in the reverse order
    for task_names in (names, renamed):
        v = _tie_credit_crowd(task_names=task_names)
        x = list(v.task_ids).index(task_names["x"])
        for seed in range(8):
            m = PlantNet(vote_factor=1.0, tie="random", random_state=seed).fit(v)
            assert str(v.classes[m.labels_[x]]) == "b0"
            assert dict(zip(v.worker_ids, m.n_correct_.tolist())) == {"p": 0, "q": 1, "r": 1}


# --------------------------------------------------------------------------- edge cases
def test_unvoted_class_and_task_without_vote():
    v = V(HAND_T, HAND_W, HAND_L, n_classes=5, task_ids=["o0", "o1", "o2", "o3", "empty"],
          extra={"author": HAND_AUTHOR})
    m = PlantNet(theta_conf=1.4).fit(v)
    P = dense_probas(m.probas_)
    assert m.labels_.tolist() == [1, 2, 1, 0, 0]  # the empty task: tie over all -> class 0
    assert not m.valid_[4] and m.confidence_[4] == 0 and m.accuracy_[4] == 0
    np.testing.assert_allclose(P[4], 0.2)
    assert np.all(P[:4, 3:] == 0)


def test_single_vote_per_task():
    v = V(["a", "b", "c", "d"], ["w1", "w2", "w1", "w3"], [0, 1, 2, 1], n_classes=3)
    m = PlantNet().fit(v)
    assert m.labels_.tolist() == [0, 1, 2, 1]
    np.testing.assert_allclose(dense_probas(m.probas_), np.eye(3)[[0, 1, 2, 1]])
    # alone, a newcomer (g = 0.74) never validates; nothing to learn: one round
    assert not m.valid_.any() and m.converged_ and m.n_iter_ == 1
    np.testing.assert_allclose(m.accuracy_, 1.0)


def test_ten_thousand_votes_on_one_task():
    rng = np.random.default_rng(0)
    n = 10_000
    lab = rng.choice(5, size=n, p=[0.75, 0.1, 0.05, 0.05, 0.05])
    v = V(np.zeros(n, int), np.arange(n), lab, n_classes=5)
    m = PlantNet().fit(v)
    P = dense_probas(m.probas_)
    assert np.all(np.isfinite(P)) and P.sum() == pytest.approx(1.0)
    assert np.isfinite(m.confidence_).all() and np.isfinite(m.accuracy_).all()
    assert m.labels_[0] == 0 and m.valid_[0]
    # everyone authored (no author column): voters of class 0 identified 1 species -> f(1) = g
    np.testing.assert_allclose(m.weights_, G)
    assert m.accuracy_[0] == pytest.approx(np.mean(lab == 0))


def test_deterministic_and_seeded_random_ties():
    votes = plantnet_crowd(7, n_tasks=200, n_users=30, n_classes=3)
    a, b = PlantNet(ai="fixed").fit(votes), PlantNet(ai="fixed").fit(votes)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    r1 = PlantNet(tie="random", random_state=3).fit(votes)
    r2 = PlantNet(tie="random", random_state=3).fit(votes)
    np.testing.assert_array_equal(r1.labels_, r2.labels_)
    np.testing.assert_array_equal(r1.valid_, r2.valid_)
    # ties are drawn once per fit: the loop still settles
    assert r1.converged_
    # random ties pick among the tied classes only
    tied = V([0, 0], ["a", "b"], [1, 2], n_classes=4)
    picks = {int(PlantNet(tie="random", random_state=s).fit(tied).labels_[0]) for s in range(30)}
    assert picks == {1, 2}


@pytest.mark.parametrize("ai", ["ignored", "worker", "invalidating", "confident"])
def test_invariant_to_renaming_and_reordering(ai):
    votes = plantnet_crowd(11, n_tasks=150, n_users=25, n_classes=4)
    df = votes.to_frame()
    rng = np.random.default_rng(0)
    df = df.iloc[rng.permutation(len(df))]
    t_perm, w_perm = rng.permutation(votes.n_tasks), rng.permutation(votes.n_workers)
    tmap = {t: f"obs-{t_perm[i]:04d}" for i, t in enumerate(votes.task_ids)}
    wmap = {w: ("AI" if w == "AI" else f"user-{w_perm[i]:04d}") for i, w in enumerate(votes.worker_ids)}
    v2 = V(df["task"].map(tmap), df["worker"].map(wmap), df["label"], classes=votes.classes,
           extra={"author": df["author"].to_numpy(), "ai_score": df["ai_score"].to_numpy()})
    m1, m2 = PlantNet(ai=ai).fit(votes), PlantNet(ai=ai).fit(v2)
    t2 = {t: i for i, t in enumerate(v2.task_ids)}
    w2 = {w: i for i, w in enumerate(v2.worker_ids)}
    it = np.array([t2[tmap[t]] for t in votes.task_ids])
    iw = np.array([w2[wmap[w]] for w in votes.worker_ids])
    np.testing.assert_array_equal(m1.labels_, m2.labels_[it])
    np.testing.assert_array_equal(m1.valid_, m2.valid_[it])
    np.testing.assert_array_equal(m1.n_correct_, m2.n_correct_[iw])
    np.testing.assert_allclose(m1.weights_, m2.weights_[iw], rtol=1e-12)
    np.testing.assert_allclose(m1.confidence_, m2.confidence_[it], rtol=1e-12)
    assert m1.n_iter_ == m2.n_iter_


def test_sparse_and_dense_probas_agree():
    votes = plantnet_crowd(4, n_tasks=120, n_users=20, n_classes=6)
    d = PlantNet(ai="fixed", dense=True).fit(votes)
    s = PlantNet(ai="fixed", dense=False).fit(votes)
    assert isinstance(d.probas_, np.ndarray) and sparse.issparse(s.probas_)
    np.testing.assert_allclose(dense_probas(s.probas_), d.probas_, atol=1e-15)
    np.testing.assert_array_equal(d.labels_, s.labels_)


def test_medium_random_crowd_sparse_and_fast():
    rng = np.random.default_rng(1)
    n_votes, n_tasks, n_users, K = 200_000, 120_000, 20_000, 1000
    task = np.concatenate([np.arange(n_tasks), rng.integers(0, n_tasks, n_votes - n_tasks)])
    worker = rng.integers(0, n_users, n_votes)
    truth = rng.integers(0, K, n_tasks)
    label = np.where(rng.random(n_votes) < 0.8, truth[task], rng.integers(0, K, n_votes))
    author = np.r_[np.ones(n_tasks, bool), np.zeros(n_votes - n_tasks, bool)]
    v = Votes(task=task, worker=worker, label=label, task_ids=np.arange(n_tasks), worker_ids=np.arange(n_users),
              classes=np.arange(K), extra={"author": author})
    t0 = time.perf_counter()
    m = PlantNet(dense=False).fit(v)
    elapsed = time.perf_counter() - t0
    assert sparse.issparse(m.probas_) and m.probas_.nnz <= n_votes
    np.testing.assert_allclose(np.asarray(m.probas_.sum(axis=1)).ravel(), 1.0, atol=1e-12)
    assert m.converged_ and m.valid_.any() and m.weights_.max() > 2
    assert np.mean(m.labels_[m.valid_] == truth[m.valid_]) > 0.9
    assert elapsed < 10, f"{elapsed:.1f}s"


# --------------------------------------------------------------------------- API
def test_predict_proba_reuses_fitted_weights():
    m = PlantNet(theta_conf=1.4).fit(hand_votes())  # w_A = f(2), others g
    new = V(["n", "n", "n"], ["A", "B", "stranger"], [3, 0, 0], n_classes=4)
    # class 3: f(2) ; class 0: g (B) + g (unknown user: f(0))
    total = F2 + 2 * G
    np.testing.assert_allclose(m.predict_proba(new), [[2 * G / total, 0, 0, F2 / total]], rtol=1e-12)
    assert m.predict(new).tolist() == [0]
    np.testing.assert_allclose(dense_probas(m.predict_proba(hand_votes())), dense_probas(m.probas_))
    with pytest.raises(InputError, match="classes"):
        m.predict_proba(V(["n"], ["A"], [0], n_classes=3))


def test_predict_proba_applies_the_ai_mode():
    v = ai_votes()
    new = V(["n", "n"], ["H1", "AI"], [0, 1], n_classes=4)
    np.testing.assert_allclose(PlantNet().fit(v).predict_proba(new), [[1, 0, 0, 0]])
    np.testing.assert_allclose(PlantNet(ai="fixed").fit(v).predict_proba(new), [[G / (G + 1.7), 1.7 / (G + 1.7), 0, 0]])


def test_registry_names_and_parameters():
    m = make_strategy("PlantNet[theta_conf=2, theta_acc=0.7]")
    assert isinstance(m, PlantNet) and (m.theta_conf, m.theta_acc, m.ai) == (2, 0.7, "ignored")
    for name, ai in [("PlantNet-AIworker", "worker"), ("PlantNet-AIfixed", "fixed"),
                     ("PlantNet-AIinvalidating", "invalidating"), ("PlantNet-AIconfident", "confident")]:
        assert get_strategy(name).cls is PlantNet
        assert make_strategy(name).ai == ai
    m = make_strategy("plantnet-aiconfident[theta_score=0.9, ai_weight=1.5]")
    assert (m.ai, m.theta_score, m.ai_weight) == ("confident", 0.9, 1.5)
    assert "theta_conf=1.4" in repr(PlantNet(theta_conf=1.4)) and repr(PlantNet()) == "PlantNet()"


@pytest.mark.parametrize("params, match", [
    (dict(ai="always"), "ai="),
    (dict(theta_conf="2"), "theta_conf"),
    (dict(alpha=0.1, beta=0.2), "alpha"),
    (dict(beta=0.0), "beta"),
    (dict(gamma=0.0), "gamma"),
    (dict(max_iter=0), "max_iter"),
    (dict(tie="largest"), "tie rule"),
    (dict(vote_factor=-1), "vote_factor"),
])
def test_bad_parameters_are_clear_errors(params, match):
    with pytest.raises(InputError, match=match):
        PlantNet(**params).fit(hand_votes())


def test_bad_columns_are_clear_errors():
    v = ai_votes()
    with pytest.raises(InputError, match="ai_score"):
        PlantNet(ai="confident").fit(V(v.to_frame()["task"], v.to_frame()["worker"], v.to_frame()["label"],
                                       n_classes=4))
    with pytest.raises(InputError, match="author"):
        PlantNet().fit(hand_votes().with_extra(author=np.array(["yes"] * 9)))
    # 0/1 integers are a fine author flag
    a = PlantNet(theta_conf=1.4).fit(hand_votes().with_extra(author=np.array(HAND_AUTHOR, int)))
    assert a.labels_.tolist() == [1, 2, 1, 0]


# --------------------------------------------------------------------------- weight functions (issue 19)
# The user weight f(n) is a parameter. Values by hand, g = log(2.1) = 0.74194:
#   form     f(n)                  f(0)  f(2)
#   power    n**.5 - n**.2 + g     g     1.41421 - 1.14870 + g = 1.00745
#   linear   n + g                 g     2.74194
#   sqrt     n**.5 + g             g     1.41421 + g = 2.15616
#   pow075   n**.75 + g            g     1.68179 + g = 2.42373
#   square   n**2 + g              g     4.74194
#   log      log(n) + g, log 0->0  g     0.69315 + g = 1.43509
F2_BY_FORM = {
    "power": 2**0.5 - 2**0.2 + G,
    "linear": 2 + G,
    "sqrt": 2**0.5 + G,
    "pow075": 2**0.75 + G,
    "square": 4 + G,
    "log": float(np.log(2)) + G,
}
WEIGHT_NAMES = list(F2_BY_FORM)


def _expert_against_newcomers(k: int) -> Votes:
    """E authors o1 and o2 (species 1 and 2), each confirmed by two helpers (3g = 2.226 >
    2: valid), so n_E = 2 after round 1. On "d" (nobody the author) E says 0 and k
    newcomers say 3: round 1 (all weights g) labels d 3; round 2 weighs f(2) against k g."""
    t, w, lab, a = [], [], [], []
    for s in (1, 2):
        t += [f"o{s}"] * 3
        w += ["E", f"h{s}a", f"h{s}b"]
        lab += [s] * 3
        a += [True, False, False]
    t += ["d"] * (k + 1)
    w += ["E"] + [f"x{i}" for i in range(k)]
    lab += [0] + [3] * k
    a += [False] * (k + 1)
    return V(t, w, lab, n_classes=4, extra={"author": a})


# label of d with k newcomers: 0 (E's) iff f(2) > k g; k g = 1.48388, 2.22583, 2.96777
EXPERT_LABELS = {
    #         k=2 k=3 k=4
    "power": (3, 3, 3),    # 1.007 < 1.484
    "linear": (0, 0, 3),   # 2.742 > 2.226, < 2.968
    "sqrt": (0, 3, 3),     # 2.156 > 1.484, < 2.226
    "pow075": (0, 0, 3),   # 2.424 > 2.226, < 2.968
    "square": (0, 0, 0),   # 4.742 > 2.968
    "log": (3, 3, 3),      # 1.435 < 1.484
}


@pytest.mark.parametrize("form", WEIGHT_NAMES)
@pytest.mark.parametrize("k", [2, 3, 4])
def test_weight_forms_hand_computed_expert_against_newcomers(form, k):
    v = _expert_against_newcomers(k)
    m = PlantNet(weight=form).fit(v)
    tasks, workers = list(v.task_ids), list(v.worker_ids)
    d, e = tasks.index("d"), workers.index("E")
    expected = EXPERT_LABELS[form][k - 2]
    assert m.labels_[d] == expected
    # E: 2 authored species (+ round(0.1) = 0 for the voted 0 on d when d flips): n = 2
    # everybody else: at most one voted species, round(0.1) = 0
    assert m.n_correct_[e] == 2 and m.n_correct_.sum() == 2
    expected_w = np.full(v.n_workers, G)
    expected_w[e] = F2_BY_FORM[form]
    np.testing.assert_allclose(m.weights_, expected_w, rtol=1e-12)
    # d's confidence: the weight behind its label
    np.testing.assert_allclose(m.confidence_[d], F2_BY_FORM[form] if expected == 0 else k * G, rtol=1e-12)
    assert m.converged_


# The hand case of test_hand_computed_iterations (theta_conf 1.4) under each form: round 1
# has all weights f(0) = g, so n = [2, 0, 0, 0] and o2 flips to A's 1 (f(2) > g) for every
# form. o2 is then valid iff conf = f(2) > 1.4 and acc = f(2) / (f(2) + g) > 0.7, i.e.
# f(2) > 7/3 g = 1.73119: power (1.007) and log (1.435) no, the four others yes.
O2_VALID = {"power": False, "linear": True, "sqrt": True, "pow075": True, "square": True, "log": False}


@pytest.mark.parametrize("form", WEIGHT_NAMES)
def test_weight_forms_hand_computed_validity(form):
    m = PlantNet(theta_conf=1.4, weight=form).fit(hand_votes())
    f2 = F2_BY_FORM[form]
    assert m.labels_.tolist() == [1, 2, 1, 0]
    assert m.n_correct_.tolist() == [2, 0, 0, 0]
    assert m.valid_.tolist() == [True, True, O2_VALID[form], False]
    np.testing.assert_allclose(m.weights_, [f2, G, G, G], rtol=1e-12)
    np.testing.assert_allclose(m.confidence_, [f2 + G, f2 + G, f2, 2 * G], rtol=1e-12)
    np.testing.assert_allclose(m.accuracy_, [1, 1, f2 / (f2 + G), 2 / 3], rtol=1e-12)


def test_log_weight_reads_no_species_as_one():
    # log(0) is undefined: f(0) = f(1) = gamma, as with the power form
    v = _voter_crowd(15, own_species=None)  # V: round(1.5) = 2 voted species; the authors: 1
    m = PlantNet(weight="log", gamma=2.1).fit(v)
    n = m.n_correct_.astype(float)
    expected = np.where(n == 2, np.log(2) + 2.1, 2.1)  # n is 0, 1 or 2 here
    assert set(n.tolist()) == {1.0, 2.0}
    np.testing.assert_allclose(m.weights_, expected, rtol=1e-12)
    assert np.all(np.isfinite(m.weights_))
    # an unknown user weighs f(0) = gamma in predict_proba
    new = V(["n", "n"], ["stranger", "V"], [0, 1], n_classes=v.n_classes)
    np.testing.assert_allclose(m.predict_proba(new)[0, :2],
                               np.array([2.1, np.log(2) + 2.1]) / (2.1 + np.log(2) + 2.1), rtol=1e-12)


@pytest.mark.parametrize("ai", AI_MODES)
@pytest.mark.parametrize("seed", [0, 1, 3])
def test_weight_power_is_the_previous_default(ai, seed):
    votes = plantnet_crowd(seed, n_tasks=200, n_users=30, n_classes=5)
    a = PlantNet(ai=ai, theta_conf=1.4).fit(votes)
    b = PlantNet(ai=ai, theta_conf=1.4, weight="power").fit(votes)
    for attr in ("labels_", "valid_", "n_correct_", "weights_", "confidence_", "accuracy_"):
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
    np.testing.assert_array_equal(dense_probas(a.probas_), dense_probas(b.probas_))
    assert (a.n_iter_, a.converged_) == (b.n_iter_, b.converged_)
    # and the weights are still n**0.5 - n**0.2 + g of the species counts (f(0) = g: the AI
    # under "worker" is weighed like a user, otherwise its weight is 0 or 1.7)
    human = np.asarray(votes.worker_ids) != "AI"
    n = a.n_correct_[human].astype(float)
    np.testing.assert_allclose(a.weights_[human], n**0.5 - n**0.2 + G, rtol=1e-12)
    assert a.valid_.any()


@pytest.mark.parametrize("seed", [0, 2, 5])
def test_callable_weight_equals_the_named_form(seed):
    votes = plantnet_crowd(seed, n_tasks=200, n_users=30, n_classes=5)
    named = PlantNet(weight="linear", theta_conf=1.4).fit(votes)
    called = PlantNet(weight=lambda n: n + G, theta_conf=1.4).fit(votes)
    np.testing.assert_array_equal(called.labels_, named.labels_)
    np.testing.assert_array_equal(called.valid_, named.valid_)
    np.testing.assert_array_equal(called.n_correct_, named.n_correct_)
    np.testing.assert_allclose(called.weights_, named.weights_, rtol=1e-15)
    # the linear form does change things on these crowds (heavier experts than power's)
    assert named.weights_.max() > PlantNet(theta_conf=1.4).fit(votes).weights_.max()


def test_callable_weight_gets_a_float_array_and_is_used_for_unknown_users():
    seen = []

    def f(n):
        seen.append((type(n), n.dtype, n.shape))
        return 2 * n + 1

    m = PlantNet(theta_conf=1.4, weight=f).fit(hand_votes())
    assert all(t is np.ndarray and dt == float and s == (4,) for t, dt, s in seen) and seen
    # round 1: all f(0) = 1, MV, conf [2, 2, 1, 2] > 1.4 and acc [1, 1, .5, .67]: o0, o1
    # valid -> n_A = 2, w_A = 5: o2 -> 1 (5 vs 1), conf 5, acc 5/6 > .7 -> valid
    assert m.weights_.tolist() == [5.0, 1.0, 1.0, 1.0]
    assert m.valid_.tolist() == [True, True, True, False]
    new = V(["n", "n"], ["A", "stranger"], [0, 1], n_classes=4)
    np.testing.assert_allclose(m.predict_proba(new), [[5 / 6, 1 / 6, 0, 0]], rtol=1e-12)


@pytest.mark.parametrize("bad", ["cubic", "Power", "", 3, 2.5, None, True, ["linear"], np.log])
def test_bad_weight_raises_input_error(bad):
    if bad is np.log:  # a callable whose weights are not all > 0: log(0) = -inf
        with pytest.raises(InputError, match=r"PlantNet: the weight function .*finite weights > 0"), \
                np.errstate(divide="ignore"):
            PlantNet(weight=bad).fit(hand_votes())
        return
    with pytest.raises(InputError, match=r"PlantNet: weight=.* is not a user weight function.*Fix"):
        PlantNet(weight=bad).fit(hand_votes())


def test_callable_weight_of_the_wrong_shape_or_sign_raises_input_error():
    for f in (lambda n: 1.0, lambda n: np.ones(3), lambda n: n - 1.0, lambda n: n * np.nan):
        with pytest.raises(InputError, match="weight function") as exc:
            PlantNet(weight=f).fit(hand_votes())
        assert "Fix:" in str(exc.value)


def test_beta_must_be_positive_with_power_only():
    with pytest.raises(InputError, match=r"PlantNet: beta=0 must be > 0 with weight='power'.*Fix"):
        PlantNet(beta=0).fit(hand_votes())
    with pytest.raises(InputError, match="beta=0"):
        make_strategy("PlantNet[beta=0]")
    with pytest.raises(InputError, match="alpha=0.1 < beta=0.2"):
        make_strategy("PlantNet[alpha=0.1]")
    # other forms ignore alpha and beta: n + gamma, whatever they are
    for spec in ("PlantNet[weight=linear, beta=0]", "PlantNet[weight=linear, alpha=0.1]"):
        m = make_strategy(spec).fit(hand_votes())
        np.testing.assert_allclose(m.weights_, m.n_correct_ + G, rtol=1e-15)
    np.testing.assert_allclose(PlantNet(theta_conf=1.4, weight="sqrt", alpha=1, beta=-3).fit(hand_votes()).weights_,
                               [2**0.5 + G, G, G, G], rtol=1e-12)
    # gamma > 0 holds for every form; beta must still be a finite number
    with pytest.raises(InputError, match="gamma"):
        PlantNet(weight="linear", gamma=0).fit(hand_votes())
    with pytest.raises(InputError, match="beta"):
        PlantNet(weight="linear", beta=float("nan")).fit(hand_votes())


def test_weight_spec_parses_from_the_cli():
    m = make_strategy("PlantNet[weight=log, gamma=2.1]")
    assert isinstance(m, PlantNet) and m.weight == "log" and m.gamma == 2.1
    m.fit(hand_votes())
    n = m.n_correct_.astype(float)
    np.testing.assert_allclose(m.weights_, np.log(np.maximum(n, 1)) + 2.1, rtol=1e-15)
    f = make_strategy("PlantNet-AIfixed[weight=square, theta_conf=1.4]")
    assert (f.weight, f.ai, f.theta_conf) == ("square", "fixed", 1.4)
    for form in WEIGHT_NAMES:
        assert make_strategy(f"PlantNet[weight={form}]").weight == form
    with pytest.raises(InputError, match=r"weight='cubic' is not a user weight function \('power', 'linear'"):
        make_strategy("PlantNet[weight=cubic]")
    assert "weight='log'" in repr(make_strategy("PlantNet[weight=log]"))


# --------------------------------------------------------------------------- penalised weights (issue 19)
# Lefort's thesis, §4.3.1 "Penalize the mistakes" (tanglef/thesis_tanguy, chapters/plantnet.tex):
# w_j = f(m_j) with m_j = max(n_j - n_j^wrong, 0) (difference; the thesis writes min, a
# typo), (n_j / n_j^proposed) n_j (ratio) or acc_j n_j (accuracy, agreement with the MV).

L1 = 1 + G  # linear weight of one species: 1.74194


def per_worker(m, votes, attr):
    return dict(zip(votes.worker_ids.tolist(), np.asarray(getattr(m, attr)).tolist()))


def _overruled_author(with_o4: bool) -> Votes:
    """Every vote authored (no author column). A authors o1 (0) and o2 (1) alone and loses
    o3 (A: 2 against B, C, D: 3); with_o4 adds o4 (A: 0 against B, C, D: 1)."""
    t = ["o1", "o2", "o3", "o3", "o3", "o3"]
    w = ["A", "A", "A", "B", "C", "D"]
    lab = [0, 1, 2, 3, 3, 3]
    if with_o4:
        t += ["o4"] * 4
        w += ["A", "B", "C", "D"]
        lab += [0, 1, 1, 1]
    return V(t, w, lab, n_classes=4)


# Round 1 on _overruled_author(True), weight "linear", theta_conf 0.5 (one newcomer, g =
# .742, validates alone), theta_acc 0.7: every weight g, labels [0, 1, 3, 1], all valid
# (o3, o4: acc 3/4). Species: A right {0 (o1), 1 (o2)} = 2, wrong {2 (o3), 0 (o4)} = 2,
# proposed {0, 1, 2} = 3, agrees with the MV on 2 of 4 votes; B, C, D right {3, 1} = 2,
# wrong 0, proposed 2, agree 2/2. Round 2 keeps labels and validity (o3: 3 x w_B against
# w_A, acc >= .79): converged in 2 rounds.
PENALTY_HAND = {
    None: dict(m_A=2.0, m_B=2.0),
    "difference": dict(m_A=0.0, m_B=2.0, wrong_A=2),          # max(2 - 2, 0), max(2 - 0, 0)
    "ratio": dict(m_A=2 / 3 * 2, m_B=2 / 2 * 2),              # 4/3, 2
    "accuracy": dict(m_A=2 / 4 * 2, m_B=2 / 2 * 2),           # 1, 2
}


@pytest.mark.parametrize("penalty", list(PENALTY_HAND))
def test_penalised_weights_hand_computed(penalty):
    v = _overruled_author(with_o4=True)
    m = PlantNet(weight="linear", theta_conf=0.5, penalty=penalty).fit(v)
    case = PENALTY_HAND[penalty]
    assert m.labels_.tolist() == [0, 1, 3, 1] and m.valid_.all()
    assert per_worker(m, v, "n_correct_") == {"A": 2, "B": 2, "C": 2, "D": 2}
    eff = per_worker(m, v, "n_effective_")
    assert eff["A"] == pytest.approx(case["m_A"], rel=1e-15)
    assert eff["B"] == eff["C"] == eff["D"] == pytest.approx(case["m_B"], rel=1e-15)
    np.testing.assert_allclose(m.weights_, m.n_effective_ + G, rtol=1e-15)  # linear: m + g
    if penalty == "difference":
        assert per_worker(m, v, "n_wrong_") == {"A": 2, "B": 0, "C": 0, "D": 0}
    else:
        assert m.n_wrong_ is None
    assert (m.n_iter_, m.converged_) == (2, True)


def test_penalties_keep_an_overruled_author_from_invalidating_the_majority():
    # _overruled_author(False), linear weights, theta_conf 0.5. Round 1 (all at g): labels
    # [0, 1, 3], all valid; n = A 2, B C D 1 each (species 3).
    # plain: w_A = 2 + g = 2.742 against 3 x 1.742 = 5.226 on o3: label 3 but acc 5.226 /
    #   7.968 = .656, invalid; round 2 takes species 3 from B, C, D (w = g): o3 is A's 2
    #   (2.742 > 3g = 2.226), invalid (acc .552). Round 3 changes nothing.
    # difference: A has 1 wrong species (2, on valid o3): m_A = 1, w_A = 1.742 = w_B: o3
    #   stays 3 with acc 3/4. ratio: m_A = 2/3 x 2 = 4/3, w_A = 2.075: acc 5.226 / 7.301 =
    #   .716 > .7, valid. accuracy: A agrees with the MV on 2 of 3 votes, m_A = 4/3 too.
    v = _overruled_author(with_o4=False)
    plain = PlantNet(weight="linear", theta_conf=0.5).fit(v)
    assert plain.labels_.tolist() == [0, 1, 2] and plain.valid_.tolist() == [True, True, False]
    assert plain.accuracy_[2] == pytest.approx((2 + G) / (2 + G + 3 * G), rel=1e-12)  # .552
    assert (plain.n_iter_, plain.converged_) == (3, True)
    expected_acc = {"difference": 3 / 4, "ratio": 3 * L1 / (3 * L1 + 4 / 3 + G), "accuracy": 3 * L1 / (3 * L1 + 4 / 3 + G)}
    for penalty, acc in expected_acc.items():
        m = PlantNet(weight="linear", theta_conf=0.5, penalty=penalty).fit(v)
        assert m.labels_.tolist() == [0, 1, 3] and m.valid_.all(), penalty
        assert m.accuracy_[2] == pytest.approx(acc, rel=1e-12), penalty
        assert m.n_correct_.tolist() == [2, 1, 1, 1]


def test_difference_counts_wrong_species_like_right_ones():
    # One round (max_iter=1) from the majority vote, every weight g; theta_conf 1.4 (two
    # agreeing newcomers, 2g = 1.484, validate), vote_factor 1/2 (halves round up).
    # author in capitals; E is the one who errs:
    #   o1: P*:0 Q:0 R:0 | E:1        label 0, acc 3/4, valid  -> E voted 1 wrongly
    #   o2: E*:2 | P:3 Q:3 R:3        label 3, valid           -> E authored 2 wrongly (valid)
    #   o3: P*:4 E:2                  tie 4 / 2 (g : g)        -> neither right nor wrong
    #   o4: Q*:1 R:1 | E:2            label 1, acc 2/3 invalid -> E voted 2 wrongly (already
    #                                                              counted as author)
    #   o5: Q*:3 R:3 P:3 | E:4        label 3, valid           -> E voted 4 wrongly
    #   o6: S*:0 Q:0 | T:1 R:1 | E:3  tie 0 / 1 (2g : 2g), E below the top -> E voted 3 wrongly
    #   o7: P*:0 | E:0                label 0 (2g), valid       -> E voted 0 rightly
    #   o8: F*:2 | G:3                tie, invalid, author and voter at the top: not wrong
    #   o9: F*:1 G:1 H:1 | F2:0       valid (acc 3/4); F2 is not the author: voted 0 wrongly
    #   o10: H*:2 | F:1 G:1 F3:1      label 1, valid; H authored 2 wrongly on a valid one
    # E: wrong as author {2}, as voter {1, 2, 4, 3} - {2} = {1, 3, 4}: Round(1 + 3/2) = 3;
    #    right as voter {0}: Round(1/2) = 1 -> m_E = max(1 - 3, 0) = 0.
    # F2: Round(1/2) = 1 wrong, no right species. H: 1 wrong (as author), right as author
    #    on o9 (1, valid) -> m_H = 1 - 1 = 0. Nobody else errs.
    rows = [("o1", "P", 0, 1), ("o1", "Q", 0, 0), ("o1", "R", 0, 0), ("o1", "E", 1, 0),
            ("o2", "E", 2, 1), ("o2", "P", 3, 0), ("o2", "Q", 3, 0), ("o2", "R", 3, 0),
            ("o3", "P", 4, 1), ("o3", "E", 2, 0),
            ("o4", "Q", 1, 1), ("o4", "R", 1, 0), ("o4", "E", 2, 0),
            ("o5", "Q", 3, 1), ("o5", "R", 3, 0), ("o5", "P", 3, 0), ("o5", "E", 4, 0),
            ("o6", "S", 0, 1), ("o6", "Q", 0, 0), ("o6", "T", 1, 0), ("o6", "R", 1, 0), ("o6", "E", 3, 0),
            ("o7", "P", 0, 1), ("o7", "E", 0, 0),
            ("o8", "F", 2, 1), ("o8", "G", 3, 0),
            ("o9", "F", 1, 0), ("o9", "G", 1, 0), ("o9", "H", 1, 1), ("o9", "F2", 0, 0),
            ("o10", "H", 2, 1), ("o10", "F", 1, 0), ("o10", "G", 1, 0), ("o10", "F3", 1, 0)]
    t, w, lab, au = zip(*rows)
    v = V(list(t), list(w), list(lab), n_classes=5, extra={"author": np.array(au, dtype=bool)})
    m = PlantNet(penalty="difference", theta_conf=1.4, vote_factor=0.5, max_iter=1).fit(v)
    wrong = per_worker(m, v, "n_wrong_")
    assert {k: x for k, x in wrong.items() if x} == {"E": 3, "F2": 1, "H": 1}
    # right species, by hand: P authored 0 (o1, o7) + voted 3 (o2) -> Round(1 + 1/2) = 2;
    # Q voted {0, 3} (o1, o2), authored 3 (o5) -> Round(1 + 1/2) = 2 (o4 invalid, o6 tied);
    # R voted {0, 3, 1} (o1, o2, o4 - a vote counts valid or not) -> Round(3/2) = 2;
    # F, G voted 1 (o9, o10) -> Round(1/2) = 1; F3 too; H authored 1 (o9) -> 1.
    right = per_worker(m, v, "n_correct_")
    assert right == {"P": 2, "Q": 2, "R": 2, "E": 1, "S": 0, "T": 0, "F": 1, "G": 1, "H": 1, "F2": 0, "F3": 1}
    eff = per_worker(m, v, "n_effective_")
    assert eff == {u: float(max(right[u] - wrong[u], 0)) for u in right}
    assert eff["E"] == 0.0 and eff["H"] == 0.0 and eff["P"] == 2.0
    np.testing.assert_allclose(m.weights_, plantnet_weight(m.n_effective_), rtol=1e-15)


def test_accuracy_penalty_shares_a_tied_majority_vote():
    # o1: A:0 B:1 (MV tied: each agrees by 1/2); o2: A:0 C:0. One round, theta_conf 0.5,
    # every vote authored: o1 is tied (invalid, credits nobody), o2 is valid: n_A = n_C = 1.
    # acc_A = (1/2 + 1) / 2 = 3/4, acc_B = 1/2, acc_C = 1 -> m = [3/4, 0, 1].
    v = V(["o1", "o1", "o2", "o2"], ["A", "B", "A", "C"], [0, 1, 0, 0], n_classes=2)
    m = PlantNet(penalty="accuracy", theta_conf=0.5, max_iter=1).fit(v)
    assert per_worker(m, v, "n_correct_") == {"A": 1, "B": 0, "C": 1}
    assert per_worker(m, v, "n_effective_") == {"A": 0.75, "B": 0.0, "C": 1.0}
    # power weight between 0 and 1: f(3/4) = .866 - .944 + g = .664 < g
    assert m.weights_[0] == pytest.approx(0.75**0.5 - 0.75**0.2 + G, rel=1e-14)
    assert m.weights_[0] < G


def test_ratio_counts_the_distinct_species_proposed():
    # A authors o1..o3 alone (0, 0, 1: 2 distinct species) and o4 (2) against B, C, D (3).
    # theta_conf 0.5: round 1 all valid (o4: acc 3/4); n_A = |{0, 1}| = 2, proposed
    # {0, 1, 2} = 3 -> m_A = 4/3; a species voted twice counts once in both.
    v = V(["o1", "o2", "o3", "o4", "o4", "o4", "o4"], ["A", "A", "A", "A", "B", "C", "D"],
          [0, 0, 1, 2, 3, 3, 3], n_classes=4)
    m = PlantNet(penalty="ratio", theta_conf=0.5).fit(v)
    assert per_worker(m, v, "n_effective_") == pytest.approx({"A": 4 / 3, "B": 1.0, "C": 1.0, "D": 1.0}, rel=1e-15)


@pytest.mark.parametrize("penalty", PENALTIES)
@pytest.mark.parametrize("ai", AI_MODES)
@pytest.mark.parametrize("seed, params", list(REFERENCE_PARAMS.items()))
def test_penalties_match_the_vote_by_vote_reference(penalty, ai, seed, params):
    votes = plantnet_crowd(seed)
    m = PlantNet(ai=ai, penalty=penalty, **params).fit(votes)
    ref = loop_reference(votes, ai=ai, penalty=penalty, **params)
    assert m.labels_.tolist() == ref["labels"]
    assert m.valid_.tolist() == ref["valid"]
    assert m.n_correct_.tolist() == ref["n"]
    np.testing.assert_allclose(m.n_effective_, ref["m"], rtol=1e-12)
    if penalty == "difference":
        assert m.n_wrong_.tolist() == ref["n_wrong"]
    np.testing.assert_allclose(m.confidence_, ref["conf"], rtol=1e-12)
    np.testing.assert_allclose(m.accuracy_, ref["acc"], rtol=1e-12)
    assert (m.n_iter_, m.converged_) == (ref["n_iter"], ref["converged"])


@pytest.mark.parametrize("penalty", PENALTIES)
def test_penalties_change_the_weights_of_the_reference_crowds(penalty):
    """The reference crowds do exercise the penalties: some penalised count differs from n."""
    differs = [not np.array_equal(PlantNet(penalty=penalty, **p).fit(plantnet_crowd(s)).n_effective_,
                                  PlantNet(penalty=penalty, **p).fit(plantnet_crowd(s)).n_correct_)
               for s, p in REFERENCE_PARAMS.items()]
    assert any(differs)


@pytest.mark.parametrize("spec", [f"{name}[penalty={p}]" for p in PENALTIES for name in
                                  ("PlantNet", "PlantNet-AIworker", "PlantNet-AIconfident")])
def test_penalties_pass_the_common_checks(spec):
    report = check_strategy(spec)
    assert not report.failed and "parameter_rules" in report.passed


def test_penalty_spec_parses_from_the_cli():
    for p in PENALTIES:
        assert make_strategy(f"PlantNet[penalty={p}]").penalty == p
    assert make_strategy("PlantNet[penalty=none]").penalty is None
    f = make_strategy("PlantNet-AIinvalidating[penalty=ratio, weight=sqrt]")
    assert (f.ai, f.penalty, f.weight) == ("invalidating", "ratio", "sqrt")
    with pytest.raises(InputError, match=r"penalty='wrong' is not a penalty of the species count \(None, "
                                         r"'difference', 'ratio' or 'accuracy'\)"):
        make_strategy("PlantNet[penalty=wrong]").fit(hand_votes())


def test_penalty_none_is_the_plain_strategy():
    for seed, params in REFERENCE_PARAMS.items():
        v = plantnet_crowd(seed)
        a, b = PlantNet(**params).fit(v), PlantNet(penalty=None, **params).fit(v)
        assert a.labels_.tolist() == b.labels_.tolist() and np.array_equal(a.weights_, b.weights_)
        np.testing.assert_array_equal(b.n_effective_, b.n_correct_)


def test_a_penalised_count_that_makes_a_weight_non_positive_is_a_clear_error():
    # accuracy 3/4 x 1 species with power weights and a small gamma: .866 - .944 + .05 < 0
    v = V(["o1", "o1", "o2", "o2"], ["A", "B", "A", "C"], [0, 1, 0, 0], n_classes=2)
    with pytest.raises(InputError, match=r"penalty='accuracy' gives a user a weight of -0\.02.*Fix: raise gamma"):
        PlantNet(penalty="accuracy", theta_conf=0.01, gamma=0.05).fit(v)
