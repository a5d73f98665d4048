"""`crowdwise train` end to end on tiny data: features with MV labels (hard and soft,
npy and CSV), gold labels, images with a ResNet, checked results JSON / model / figure,
and clear errors (missing torch, mismatched labels)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from _cli import run, runner  # noqa: E402
from crowdwise.cli.main import app  # noqa: E402
from learn._tiny import make_feature_dataset, make_image_dataset  # noqa: E402

FAST = ("--epochs", "12", "--batch-size", "32", "--lr", "0.05", "--threads", "1", "--device", "cpu", "-q")


@pytest.fixture(scope="module")
def feats(tmp_path_factory):
    root = tmp_path_factory.mktemp("feats")
    arr = make_feature_dataset(root, n_train=120, n_val=60, n_test=90, accuracy=0.7)
    run("aggregate", str(root), "-s", "MV", "--quiet")
    run("aggregate", str(root), "-s", "NaiveSoft", "--quiet")
    return root, arr


def _feature_args(root):
    return ("--features-train", str(root / "train.npy"), "--features-val", str(root / "val.npy"),
            "--val-truth", str(root / "val_truth.txt"), "--features-test", str(root / "test.npy"),
            "--test-truth", str(root / "test_truth.txt"))


def test_train_on_mv_labels_writes_checked_results(feats, tmp_path):
    root, arr = feats
    out = tmp_path / "out"
    run("train", str(root), "--labels", str(root / "labels" / "labels_feats0_mv.npy"), "-m", "mlp",
        "--hidden", "16", "--top-k", "2,5", *_feature_args(root), *FAST, "--out-dir", str(out))
    res = json.loads((out / "results.json").read_text())
    assert res["test_accuracy"] > 0.95 and res["test_n"] == 90
    assert 0 <= res["test_ece"] <= 1 and res["test_top2_accuracy"] >= res["test_accuracy"]
    assert "test_top5_accuracy" not in res  # k >= K is not reported
    assert res["n_train"] == 120 and res["n_val"] == 60 and res["n_classes"] == 3
    assert res["settings"]["model"] == "mlp" and res["settings"]["targets"] == "hard"
    assert res["settings"]["epochs"] == 12 and res["settings"]["lr"] == 0.05 and res["settings"]["hidden"] == [16]
    assert len(res["history"]) == 12 and 1 <= res["best_epoch"] <= 12
    assert res["val_accuracy"] == max(h["val_accuracy"] for h in res["history"])
    # the numbers are those of the saved model on the test set
    from crowdwise.learn.metrics import expected_calibration_error
    from crowdwise.learn.models import build_model

    m = build_model("mlp", 3, n_features=5, hidden=(16,), weights=out / "model.pt").eval()
    with torch.no_grad():
        proba = torch.softmax(m(torch.as_tensor(arr["x_test"])).double(), 1).numpy()
    assert res["test_accuracy"] == pytest.approx((proba.argmax(1) == arr["y_test"]).mean())
    assert res["test_ece"] == pytest.approx(expected_calibration_error(arr["y_test"], proba), abs=1e-6)
    np.testing.assert_allclose(np.load(out / "test_proba.npy"), proba, atol=1e-6)
    assert sum(res["reliability"]["counts"]) == 90
    assert (out / "reliability.png").read_bytes()[:4] == b"\x89PNG"


def test_soft_csv_and_gold_labels(feats, tmp_path):
    root, _ = feats
    run("train", str(root), "--labels", str(root / "labels" / "labels_feats0_naivesoft.csv"), "--hidden", "16",
        *_feature_args(root), *FAST, "--out-dir", str(tmp_path / "soft"))
    soft = json.loads((tmp_path / "soft" / "results.json").read_text())
    assert soft["settings"]["targets"] == "soft" and soft["test_accuracy"] > 0.95
    res = run("train", str(root), "--labels", "gold", "--train-truth", str(root / "train_truth.txt"), "--hidden",
              "16", *_feature_args(root), *FAST[:-1], "--out-dir", str(tmp_path / "gold"))  # with progress and summary
    gold = json.loads((tmp_path / "gold" / "results.json").read_text())
    assert gold["settings"]["labels"] == "gold" and gold["test_accuracy"] > 0.95
    flat = res.output.replace("\n", "")  # rich wraps long lines at the terminal width
    assert f"test accuracy {gold['test_accuracy']:.4f}" in flat and "gold/reliability.png" in flat


def test_same_seed_same_results(feats, tmp_path):
    root, _ = feats
    args = ("train", str(root), "--labels", str(root / "labels" / "labels_feats0_mv.npy"), "--hidden", "8",
            *_feature_args(root), *FAST)
    run(*args, "--out-dir", str(tmp_path / "a"), "--seed", "3")
    run(*args, "--out-dir", str(tmp_path / "b"), "--seed", "3")
    a = torch.load(tmp_path / "a" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "model.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_train_on_images(tmp_path):
    make_image_dataset(tmp_path, n_train=12, n_val=6, n_test=6, size=8)
    run("aggregate", str(tmp_path / "votes.csv"), "-s", "MV", "--quiet", "--out-dir", str(tmp_path / "labels"))
    out = tmp_path / "out"
    run("train", str(tmp_path / "votes.csv"), "--labels", str(tmp_path / "labels" / "labels_votes_mv.npy"),
        "-m", "resnet18", "--small-images", "--img-size", "8", "--augment", "--epochs", "2", "--batch-size", "6",
        "--threads", "1", "-q", "--out-dir", str(out))
    res = json.loads((out / "results.json").read_text())
    assert res["settings"]["kind"] == "images" and res["test_n"] == 6 and res["n_val"] == 6
    assert res["classes"] == ["blue", "green", "red"] and res["settings"]["augment"] is True
    assert set(torch.load(out / "model.pt", weights_only=True)) >= {"backbone.conv1.weight", "head.weight"}


def _fails(*args):
    res = runner.invoke(app, list(args))
    assert res.exit_code != 0
    return res


def test_errors(feats, tmp_path, monkeypatch):
    root, _ = feats
    np.save(tmp_path / "short.npy", np.zeros(5, np.int64))
    from crowdwise.errors import InputError

    res = _fails("train", str(root), "--labels", str(tmp_path / "short.npy"), *_feature_args(root), *FAST)
    assert isinstance(res.exception, InputError) and "5 labels for 120 tasks" in str(res.exception)
    res = _fails("train", str(root), "--labels", str(tmp_path / "absent.npy"), *FAST)
    assert "labels file not found" in str(res.exception)
    res = _fails("train", str(root), "--labels", "gold", *FAST)
    assert "no train/ image folder and no feature matrix" in str(res.exception)
    # no torch: the install command
    monkeypatch.setitem(sys.modules, "torch", None)
    res = _fails("train", str(root), "--labels", "gold", *FAST)
    assert 'pip install "crowdwise[deep]"' in str(res.exception)


def test_missing_torch_is_one_line_exit_2(feats, monkeypatch, capsys):
    root, _ = feats
    from crowdwise.cli.main import main

    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setattr(sys, "argv", ["crowdwise", "train", str(root), "--labels", "gold"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    assert "needs torch" in capsys.readouterr().err


def test_peerannot_folder_with_images_and_same_seed(tmp_path):
    """A peerannot folder (answers.json + metadata.json with class names) beside its
    train/ val/ test/ images; two runs with augmentation and the same seed agree."""
    from crowdwise import io

    make_image_dataset(tmp_path, n_train=9, n_val=3, n_test=3, size=8)
    votes = io.load_votes(tmp_path / "votes.csv")
    (tmp_path / "votes.csv").unlink()
    io.save_votes(votes, tmp_path)
    assert (tmp_path / "answers.json").exists()
    run("aggregate", str(tmp_path), "-s", "NaiveSoft", "--quiet")
    labels = next((tmp_path / "labels").glob("*naivesoft.npy"))
    outs = []
    for name in ("a", "b"):
        run("train", str(tmp_path), "--labels", str(labels), "-m", "resnet18", "--small-images", "--img-size", "8",
            "--augment", "--epochs", "1", "--batch-size", "5", "--threads", "1", "--seed", "2", "-q",
            "--out-dir", str(tmp_path / name))
        outs.append(torch.load(tmp_path / name / "model.pt", weights_only=True))
        res = json.loads((tmp_path / name / "results.json").read_text())
        assert res["settings"]["targets"] == "soft" and res["n_train"] == 9
    assert all(torch.equal(outs[0][k], outs[1][k]) for k in outs[0])


def test_bad_settings_fail_before_reading(tmp_path):
    res = _fails("train", str(tmp_path / "absent"), "--labels", "gold", "--optimizer", "rmsprop")
    assert "unknown optimizer 'rmsprop'" in str(res.exception)
    res = _fails("train", str(tmp_path / "absent"), "--labels", "gold", "--hidden", "12,x")
    assert "--hidden '12,x' is not a list of integers" in str(res.exception)
    assert "e.g. --hidden 128,64" in str(res.exception)
    res = _fails("train", str(tmp_path / "absent"), "--labels", "gold", "--top-k", "abc")
    assert "--top-k 'abc' is not a list of integers" in str(res.exception) and "e.g. --top-k 3,5" in str(res.exception)


# --------------------------------------------------------------------------- README (issue 21)
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def _readme_command(verb: str) -> list[str]:
    """The tokens of README's LabelMe ``crowdwise <verb>`` command (continuation lines joined,
    comments dropped)."""
    import shlex

    text = (ROOT / "README.md").read_text()
    start = text.index(f"crowdwise {verb} $D")
    lines = []
    for line in text[start:].splitlines():
        lines.append(line.rstrip().rstrip("\\"))
        if not line.rstrip().endswith("\\"):
            break
    return shlex.split(" ".join(lines), comments=True)


def _options(tokens: list[str]) -> dict[str, str]:
    return {t: tokens[i + 1] for i, t in enumerate(tokens[:-1]) if t.startswith("--")}


def _benchmark_recipe() -> dict:
    import importlib.util

    spec = importlib.util.spec_from_file_location("_learning_benchmark", ROOT / "benchmarks" / "learning.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.RECIPE


def test_readme_labelme_train_command_is_the_recipe_of_the_figures(feats, tmp_path):
    # README's `crowdwise train` on LabelMe must train as benchmarks/learning.py did for the MV
    # row of docs/results/learning.md (it used to leave train's defaults: weight decay 5e-4 and
    # a multistep schedule at epochs 25 and 37)
    recipe = _benchmark_recipe()
    opts = _options(_readme_command("train"))
    assert int(opts["--epochs"]) == recipe["epochs"]
    # the same options on the tiny set (2 epochs): the settings the CLI records are the recipe
    root, _ = feats
    keep = [a for k in ("--optimizer", "--lr", "--weight-decay", "--scheduler", "--batch-size") if k in opts
            for a in (k, opts[k])]
    out = tmp_path / "readme"
    run("train", str(root), "--labels", str(root / "labels" / "labels_feats0_mv.npy"), "--hidden", "8",
        *_feature_args(root), *keep, "--epochs", "2", "--threads", "1", "--device", "cpu", "-q", "--out-dir", str(out))
    settings = json.loads((out / "results.json").read_text())["settings"]
    for key in ("batch_size", "optimizer", "lr", "weight_decay", "scheduler"):
        assert settings[key] == recipe[key], key
    doc = (ROOT / "docs" / "results" / "learning.md").read_text()
    assert "Adam, lr 1e-3, batch 64 tasks, 50 epochs, no weight decay, no schedule" in doc


def test_readme_names_the_files_aggregate_deep_writes(feats, tmp_path):
    import re

    text = (ROOT / "README.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `crowdwise aggregate-deep"))
    named = [p for p in re.findall(r"`([^`]+)`", row) if "<data>" in p]
    assert "results/<data>_<strategy>.json" in named and "`results.json`" not in row
    root, _ = feats
    out = tmp_path / "deep"
    run("aggregate-deep", str(root), "-s", "CrowdLayer", *_feature_args(root), "--epochs", "2", "--threads", "1",
        "--device", "cpu", "-q", "--out-dir", str(out))
    for p in named:
        assert (out / p.replace("<data>", "feats0").replace("<strategy>", "crowdlayer")).is_file(), p
    # and the LabelMe example's comment points at the file its --out-dir and data name give
    tokens = _readme_command("aggregate-deep")
    out_dir = tokens[tokens.index("--out-dir") + 1]
    comment = text[text.index(f"--out-dir {out_dir}"):].splitlines()[0]
    assert f"{out_dir}/results/labelme_crowdlayer.json" in comment
