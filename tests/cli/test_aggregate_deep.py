"""`crowdwise aggregate-deep` end to end on a simulated crowd with features."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from _cli import run, runner, simulate_folder  # noqa: E402
from crowdwise import io  # noqa: E402
from crowdwise.cli.main import app  # noqa: E402


@pytest.fixture(scope="module")
def crowd(tmp_path_factory):
    """120 tasks, 3 classes, 8 workers (5 votes per task); separable 4-d features."""
    root = tmp_path_factory.mktemp("deep")
    folder = simulate_folder(root / "sim", n_task=120, n_worker=8, n_classes=3, spammers=0.0, seed=2)
    truth = np.load(folder / "ground_truth.npy")
    rng = np.random.default_rng(0)
    centres = np.eye(3, 4) * 3.0
    x = (centres[truth] + 0.5 * rng.standard_normal((truth.size, 4))).astype(np.float32)
    y_test = rng.integers(0, 3, 60)
    x_test = (centres[y_test] + 0.5 * rng.standard_normal((60, 4))).astype(np.float32)
    np.save(root / "train.npy", x)
    np.save(root / "test.npy", x_test)
    (root / "test_truth.txt").write_text("\n".join(map(str, y_test)) + "\n")
    return folder, root, x_test, y_test


def test_aggregate_deep_writes_labels_confusions_model_and_results(crowd, tmp_path):
    folder, root, x_test, y_test = crowd
    out = tmp_path / "out"
    run("aggregate-deep", str(folder), "-s", "GeoCrowdNet-F[lambda=0.01]", "-m", "mlp", "--hidden", "16",
        "--features-train", str(root / "train.npy"), "--features-test", str(root / "test.npy"),
        "--test-truth", str(root / "test_truth.txt"), "--epochs", "15", "--lr", "0.01", "--threads", "1",
        "--out-dir", str(out), "--quiet")
    votes = io.load_votes(folder)
    stem = "sim_geocrowdnet-f[lambda=0.01]"
    soft = np.load(out / "labels" / f"labels_{stem}.npy")
    assert soft.shape == (votes.n_tasks, 3)
    np.testing.assert_allclose(soft.sum(1), 1.0, atol=1e-6)
    truth = np.load(folder / "ground_truth.npy")
    assert (soft.argmax(1) == truth).mean() > 0.9  # separable features: the classifier finds the truth
    table = pd.read_csv(out / "labels" / f"labels_{stem}.csv")
    assert table["task"].tolist() == votes.task_ids.tolist()
    np.testing.assert_allclose(table[["p_0", "p_1", "p_2"]].to_numpy(), soft, rtol=1e-9)
    conf = np.load(out / "confusions" / f"confusions_{stem}.npy")
    assert conf.shape == (votes.n_workers, 3, 3)
    np.testing.assert_allclose(conf.sum(2), 1.0, atol=1e-6)
    res = json.loads((out / "results" / f"{stem}.json").read_text())
    assert set(res) >= {"test_accuracy", "test_ece", "best_epoch", "config"}
    # the saved classifier reproduces the reported test accuracy
    from crowdwise.learn.models import build_model

    model = build_model("mlp", 3, n_features=4, hidden=(16,), weights=out / "models" / f"{stem}.pth").eval()
    with torch.no_grad():
        pred = model(torch.as_tensor(x_test)).argmax(1).numpy()
    assert res["test_accuracy"] == pytest.approx((pred == y_test).mean())
    assert res["test_accuracy"] > 0.9
    assert 0.0 <= res["test_ece"] <= 1.0


def test_aggregate_deep_conal_default_output_is_the_dataset_folder(crowd, tmp_path):
    import shutil

    folder, root, _, _ = crowd
    copy = tmp_path / "sim"
    shutil.copytree(folder, copy)
    run("aggregate-deep", str(copy), "-s", "CoNAL[scale=1e-4]", "--hidden", "8", "--features-train",
        str(root / "train.npy"), "--epochs", "2", "--threads", "1", "--quiet")
    assert (copy / "labels" / "labels_sim_conal[scale=1e-4].npy").is_file()
    res = json.loads((copy / "results" / "sim_conal[scale=1e-4].json").read_text())
    assert "test_accuracy" not in res and len(res["history"]) == 2


def test_aggregate_deep_bad_input_is_one_line(crowd, tmp_path):
    folder, root, _, _ = crowd
    bad = runner.invoke(app, ["aggregate-deep", str(folder), "-s", "CrowdLayer[lam=1]", "--features-train",
                              str(root / "train.npy"), "--out-dir", str(tmp_path)])
    assert bad.exit_code != 0
    assert "CrowdLayer has no parameter 'lam'" in str(bad.exception) + bad.output
    short = root / "short.npy"
    np.save(short, np.zeros((5, 4), dtype=np.float32))
    bad = runner.invoke(app, ["aggregate-deep", str(folder), "--features-train", str(short), "--out-dir", str(tmp_path)])
    assert bad.exit_code != 0


def test_aggregate_deep_standardize_trains_on_features_scaled_by_the_training_statistics(crowd, tmp_path):
    folder, root, x_test, y_test = crowd
    x = np.load(root / "train.npy")
    far = tmp_path / "far"  # badly scaled features: large offsets and spreads
    far.mkdir()
    np.save(far / "train.npy", (x * 50.0 + 1000.0).astype(np.float32))
    np.save(far / "test.npy", (x_test * 50.0 + 1000.0).astype(np.float32))
    out = tmp_path / "out"
    run("aggregate-deep", str(folder), "-s", "CrowdLayer", "-m", "mlp", "--hidden", "16", "--standardize",
        "--features-train", str(far / "train.npy"), "--features-test", str(far / "test.npy"),
        "--test-truth", str(root / "test_truth.txt"), "--epochs", "15", "--lr", "0.01", "--threads", "1",
        "--out-dir", str(out), "--quiet")
    res = json.loads((out / "results" / "sim_crowdlayer.json").read_text())
    from crowdwise.learn.models import build_model

    model = build_model("mlp", 3, n_features=4, hidden=(16,), weights=out / "models" / "sim_crowdlayer.pth").eval()
    raw = np.load(far / "train.npy").astype(np.float64)
    scaled = ((np.load(far / "test.npy") - raw.mean(0)) / raw.std(0)).astype(np.float32)
    with torch.no_grad():
        pred = model(torch.as_tensor(scaled)).argmax(1).numpy()
    # the network was trained, and is scored, on the test features scaled with the training mean and sd
    assert res["test_accuracy"] == pytest.approx((pred == y_test).mean())
    assert res["test_accuracy"] > 0.9
