"""Classifiers as workers (``crowdwise simulate --strategy classifiers``): each classifier's
accuracy sits where its model class puts it, the crowd's majority vote beats its median
worker, the parts and the votes follow the documented rules."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("sklearn")

from crowdwise import InputError  # noqa: E402
from crowdwise.aggregate import make_strategy  # noqa: E402
from crowdwise.cli.main import app  # noqa: E402
from crowdwise.simulate.classifiers import classifier_crowd, make_classifier, three_circles, two_moons  # noqa: E402

runner = CliRunner()


@pytest.fixture(autouse=True)
def _quiet_sklearn():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_each_classifier_on_two_moons_is_as_good_as_its_model_class():
    # measured over seeds 0-9 (500 tasks, noise 0.2, each fitted on its own 500 points): linear SVC
    # 0.838-0.886 (a line cannot follow the moons), RBF SVC 0.946-0.982, boosting 0.936-0.976
    for seed in range(2):
        crowd = classifier_crowd("two-moons", n_tasks=500, seed=seed)
        lin, rbf, boost = crowd.worker_accuracy
        assert 0.80 <= lin <= 0.91 and 0.93 <= rbf <= 0.99 and 0.92 <= boost <= 0.99
        # the votes are the classifiers' predictions, and worker_accuracy is their accuracy
        v = crowd.votes
        for j, clf in enumerate(crowd.classifiers):
            mine = v.worker == j
            assert np.array_equal(v.label[mine], clf.predict(crowd.features)[v.task[mine]])
            assert crowd.worker_accuracy[j] == pytest.approx((clf.predict(crowd.features) == crowd.truth).mean())


def test_the_majority_vote_of_a_varied_crowd_beats_its_median_worker():
    # seven kinds of classifiers, each fitted on 40 points: measured MV - median worker over seeds 0-9:
    # +0.028 +0.040 +0.032 +0.010 -0.004 +0.002 +0.018 +0.006 +0.028 +0.046 (mean +0.021)
    names = ["linear-svc", "rbf-svc", "boosting", "tree", "knn", "logistic", "naive-bayes"]
    gains = []
    for seed in range(4):
        crowd = classifier_crowd("two-moons", n_tasks=500, classifiers=names, n_fit=40, seed=seed)
        mv = make_strategy("MV", random_state=seed).fit(crowd.votes).labels_
        gains.append((mv == crowd.truth).mean() - np.median(crowd.worker_accuracy))
    assert min(gains) > 0 and np.mean(gains) > 0.01


def test_three_circles_the_linear_worker_is_near_chance():
    crowd = classifier_crowd("three-circles", n_tasks=300, n_test=100, seed=0)
    assert crowd.n_classes == 3 and crowd.test_features.shape == (100, 2) and crowd.test_truth.shape == (100,)
    lin, rbf, boost = crowd.worker_accuracy
    assert lin < 0.45 and min(rbf, boost) > 0.75          # three classes: chance is 1/3


def test_generators_by_hand():
    x, y = two_moons(6, np.random.default_rng(0), noise=0.0)
    upper, lower = x[y == 0], x[y == 1]
    assert np.allclose(np.hypot(*upper.T), 1.0) and (upper[:, 1] >= -1e-6).all()
    assert np.allclose(np.hypot(1 - lower[:, 0], 0.5 - lower[:, 1]), 1.0) and (lower[:, 1] <= 0.5 + 1e-6).all()
    assert sorted(np.bincount(y).tolist()) == [3, 3]
    x, y = three_circles(9, np.random.default_rng(1), noise=0.0)
    assert np.allclose(np.hypot(*x.T), (y + 1) / 3, atol=1e-6) and np.bincount(y).tolist() == [3, 3, 3]


def test_user_features_each_worker_learns_from_its_part_and_does_not_vote_on_it():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    truth = np.where(x[:, 0] + 0.3 * x[:, 1] > 0, "pos", "neg")
    crowd = classifier_crowd(x, truth, n_workers=4, classifiers=["logistic", "tree"], seed=1)
    assert crowd.votes.classes.tolist() == ["neg", "pos"]
    parts = crowd.parts
    assert [p.size for p in parts] == [30] * 4 and np.unique(np.concatenate(parts)).size == 120  # disjoint
    v = crowd.votes
    for j, part in enumerate(parts):
        assert not np.isin(v.task[v.worker == j], part).any()
    assert (v.votes_per_task() == 3).all()             # 4 workers, minus the one who learnt the row
    assert crowd.worker_type.tolist() == ["logistic", "tree", "logistic", "tree"]
    assert (crowd.worker_accuracy > 0.8).all()


def test_estimators_are_cloned_and_feedback_is_respected():
    from sklearn.neighbors import KNeighborsClassifier

    given = KNeighborsClassifier(n_neighbors=3)
    crowd = classifier_crowd("two-moons", n_tasks=100, n_workers=6, classifiers=[given, "tree"], feedback=2,
                             seed=0)
    assert not hasattr(given, "classes_")               # the user's estimator is left unfitted
    assert (crowd.votes.votes_per_task() == 2).all()
    assert crowd.worker_type.tolist()[:2] == ["KNeighborsClassifier", "tree"]


def test_bad_arguments():
    with pytest.raises(InputError, match="unknown feature set"):
        classifier_crowd("spirals")
    with pytest.raises(InputError, match="unknown classifier"):
        make_classifier("perceptron-9000")
    with pytest.raises(InputError, match="truth"):
        classifier_crowd(np.zeros((10, 2)))
    with pytest.raises(InputError, match="single class"):
        classifier_crowd(np.zeros((10, 2)), np.zeros(10))


def test_same_seed_same_crowd():
    a = classifier_crowd("two-moons", n_tasks=80, seed=5)
    b = classifier_crowd("two-moons", n_tasks=80, seed=5)
    assert a.votes.equals(b.votes, check_order=True) and np.array_equal(a.features, b.features)


def test_cli_classifiers_writes_the_crowd_and_its_features(tmp_path):
    out = tmp_path / "moons"
    res = runner.invoke(app, ["simulate", "-s", "classifiers", "--n-task", "200", "--n-worker", "3", "--seed", "4",
                              "--out-dir", str(out)], terminal_width=200)
    assert res.exit_code == 0, res.output
    api = classifier_crowd("two-moons", n_tasks=200, n_workers=3, seed=4)
    answers = json.loads((out / "answers.json").read_text())
    assert len(answers) == 200 and all(len(ws) == 3 for ws in answers.values())
    assert np.array_equal(np.load(out / "ground_truth.npy"), api.truth)
    assert np.allclose(np.load(out / "features.npy"), api.features)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["strategy"] == "classifiers" and meta["classifiers"] == ["linear-svc", "rbf-svc", "boosting"]
    acc = f"{api.worker_accuracy[1]:.3f}"
    assert f"rbf-svc {acc}" in res.output


def test_cli_classifiers_on_a_feature_file(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "y.txt").write_text("\n".join(str(int(v)) for v in (x[:, 0] > 0)) + "\n")
    res = runner.invoke(app, ["simulate", "-s", "classifiers", "--features", str(tmp_path / "x.npy"), "-t",
                              str(tmp_path / "y.txt"), "--n-worker", "3", "--classifiers", "logistic", "-q",
                              "--out-dir", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert np.array_equal(np.load(tmp_path / "out" / "ground_truth.npy"), (x[:, 0] > 0).astype(int))
    bad = runner.invoke(app, ["simulate", "-s", "classifiers", "--features", "spirals", "--out-dir",
                              str(tmp_path / "bad")])
    assert bad.exit_code != 0 and not (tmp_path / "bad").exists()
