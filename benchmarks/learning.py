"""Learning from crowds on LabelMe and Music features, and WAUM on a three-circles crowd.

Writes docs/results/learning.md (the table of test accuracy and ECE, mean ± sd over seeds).

Commands (from the repository root; ../shared/datasets beside it):

    pip install -e ".[deep]" && pip install -r benchmarks/requirements-learning.txt   # scikit-learn (circles)
    python benchmarks/learning.py                      # 5 seeds, everything -> docs/results/learning.md
    python benchmarks/learning.py --tune               # the validation grid behind the recipe (LabelMe)
    python benchmarks/learning.py --seeds 1 --only labelme --no-peers    # a quick look
    python benchmarks/learning.py --circles-only       # only the three-circles WAUM check (its doc section):
        # first reconstruction (5 seeds) + calibrated one (24-set-up grid on validation seeds 100-102, then
        # seeds 0-9 at the argmin; stops after printing the grid while CIRCLES_CALIBRATED is unset)

Results of every run are cached in /tmp/crowdwise-learning/runs.json (tune.json for --tune;
delete it to start over); crowd-kit runs in its own venv (/tmp/crowdwise-peers/crowdkit, crowd-kit 1.4.2 with
torch 2.13.0 CPU) through a subprocess on the same arrays.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CROWDWISE_DATASETS", ROOT.parent / "shared" / "datasets"))
CACHE = Path("/tmp/crowdwise-learning")
PEER_PY = Path("/tmp/crowdwise-peers/crowdkit/bin/python")
DOC = ROOT / "docs" / "results" / "learning.md"

# one recipe for every method of a data set (chosen on LabelMe's validation split, see --tune)
RECIPE = dict(epochs=50, batch_size=64, optimizer="adam", lr=1e-3, weight_decay=0.0, scheduler="none")
MODELS = {"labelme": ("labelme", {}),  # Rodrigues & Pereira: Dense(128), ReLU, Dropout(0.5), Dense(K)
          "music": ("mlp", {"hidden": (128,), "dropout": 0.5})}
LABEL_METHODS = {"MV": "MV", "NS": "NaiveSoft", "DS": "DS", "GLAD": "GLAD", "WDS": "WDS"}
CROWD_METHODS = {"CrowdLayer": "CrowdLayer", "CoNAL (λ=0)": "CoNAL[scale=0]", "CoNAL (λ=1e-4)": "CoNAL[scale=1e-4]",
                 "GeoCrowdNet (F)": "GeoCrowdNet-F[lambda=0.01]", "GeoCrowdNet (W)": "GeoCrowdNet-W[lambda=0.01]"}
WAUM_ALPHA = 0.01


# --------------------------------------------------------------------------- data
def load(name: str):
    from crowdwise import io
    from crowdwise.learn.data import Split, TaskData, load_features

    if name == "labelme":
        f = DATA / "labelme" / "features"
        votes = io.load_votes(DATA / "labelme")
        data = load_features(f / "LabelMe_VGG_avg_train.npy", votes=votes, val=f / "LabelMe_VGG_avg_valid.npy",
                             val_truth=f / "LabelMe_Z_valid.txt", test=f / "LabelMe_VGG_avg_test.npy",
                             test_truth=f / "LabelMe_Z_test.txt", train_truth=f / "LabelMe_Z_train.txt")
        return votes, data
    f = DATA / "music_genre" / "features"
    votes = io.load_votes(DATA / "music_genre")
    data = load_features(f / "music_genre_gold.csv", votes=votes, test=f / "music_genre_test.csv")
    # standardise with the training features' mean and sd (no label involved)
    mu, sd = data.train.features.mean(0), data.train.features.std(0) + 1e-8
    z = lambda s: Split(s.name, s.task_ids, s.truth, features=((s.features - mu) / sd).astype(np.float32))  # noqa: E731
    return votes, TaskData(z(data.train), None, z(data.test), data.classes, data.kind)


def config(seed: int, **over):
    from crowdwise.learn.train import TrainConfig

    return TrainConfig(**{**RECIPE, **over}, seed=seed, device="cpu", threads=1)


# --------------------------------------------------------------------------- methods
def train_on_labels(data, targets, seed, model, opts, **over):
    from crowdwise.learn.data import make_dataset
    from crowdwise.learn.models import build_model
    from crowdwise.learn.train import evaluate, fit

    cfg = config(seed, **over)
    net = build_model(model, data.n_classes, n_features=data.n_features, seed=seed, **opts)
    val = make_dataset(data.val) if data.val is not None else None
    fit(net, make_dataset(data.train, targets), config=cfg, val_set=val)
    m, _ = evaluate(net, data.test)
    return m


def subset(votes, data, keep):
    """Votes and training rows of the kept tasks (task ids kept, tasks renumbered)."""
    from crowdwise.learn.data import Split, TaskData

    tv = keep[votes.task]
    sub = votes.take(tv, compact=True)
    rows = np.flatnonzero(keep)
    tr = data.train
    split = Split("train", tr.task_ids[rows], tr.truth[rows], features=tr.features[rows])
    assert np.array_equal(np.asarray(sub.task_ids).astype(str), np.asarray(tr.task_ids[rows]).astype(str))
    return sub, TaskData(split, data.val, data.test, data.classes, data.kind)


def run_method(dname: str, method: str, seed: int) -> dict:
    from crowdwise.aggregate import make_strategy
    from crowdwise.learn.aum import prune_mask, waum_scores
    from crowdwise.learn.crowd_layers import fit_crowd_layer

    votes, data = load(dname)
    model, opts = MODELS[dname]
    t0 = time.perf_counter()
    out: dict = {}
    if method == "gold":
        m = train_on_labels(data, data.train.truth, seed, model, opts)
    elif method in LABEL_METHODS:
        agg = make_strategy(LABEL_METHODS[method], random_state=seed).fit(votes)
        targets = agg.labels_ if method == "MV" else np.asarray(agg.probas_)
        out["label_accuracy"] = float((agg.labels_ == data.train.truth).mean())
        m = train_on_labels(data, targets, seed, model, opts)
    elif method in CROWD_METHODS:
        r = fit_crowd_layer(votes, data, CROWD_METHODS[method], model=model, model_options=opts, config=config(seed))
        m = r.metrics
        out["label_accuracy"] = float((r.soft_labels.argmax(1) == data.train.truth).mean())
    elif method.startswith("WAUM"):
        w = waum_scores(votes, data, confusions="DS", model=model, model_options=opts, config=config(seed))
        keep = prune_mask(w.scores, WAUM_ALPHA)
        out["pruned"] = int((~keep).sum())
        sub, sdata = subset(votes, data, keep)
        if method.endswith("WDS"):
            agg = make_strategy("WDS", random_state=seed).fit(sub)
            m = train_on_labels(sdata, np.asarray(agg.probas_), seed, model, opts)
        else:
            m = fit_crowd_layer(sub, sdata, "CoNAL[scale=1e-4]", model=model, model_options=opts,
                                config=config(seed)).metrics
    else:
        raise ValueError(method)
    out.update(acc=float(m["test_accuracy"]), ece=float(m["test_ece"]), seconds=time.perf_counter() - t0)
    return out


# --------------------------------------------------------------------------- crowd-kit
PEER_SCRIPT = textwrap.dedent('''
    import json, sys, numpy as np, torch
    from torch import nn
    import torch.nn.functional as F
    from crowdkit.learning import CoNAL, CrowdLayer
    a = np.load(sys.argv[1]); method, seed = sys.argv[2], int(sys.argv[3])
    hidden, dropout, epochs, bs, lr = 128, 0.5, int(a["epochs"]), 64, 1e-3
    torch.manual_seed(seed); torch.set_num_threads(1)
    X, Xv, Xt = (torch.as_tensor(a[k]) for k in ("x", "xv", "xt"))
    task, worker, label = (torch.as_tensor(a[k]).long() for k in ("task", "worker", "label"))
    K, W = int(a["k"]), int(a["n_workers"])
    backbone = nn.Sequential(nn.Linear(X.shape[1], hidden), nn.ReLU(), nn.Dropout(dropout))
    head = nn.Linear(hidden, K)
    layer = CrowdLayer(K, W, conn_type="mw") if method == "CrowdLayer" else CoNAL(K, W)
    if method != "CrowdLayer":
        layer(torch.zeros(2, hidden), torch.zeros(2, K), torch.zeros(2, dtype=torch.long))  # lazy layer
    params = list(backbone.parameters()) + list(head.parameters()) + list(layer.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    order = torch.argsort(task, stable=True); counts = torch.bincount(task, minlength=len(X))
    indptr = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(counts, 0)])
    def predict(x):
        backbone.eval()
        with torch.no_grad():
            p = torch.softmax(head(backbone(x)), 1)
        backbone.train(); return p
    best, best_state = -1.0, None
    voted = torch.nonzero(counts > 0).squeeze(1)
    for ep in range(epochs):
        perm = voted[torch.randperm(len(voted), generator=gen)]
        for b in range(0, len(perm), bs):
            tasks = perm[b:b + bs]
            n = counts[tasks]; row = torch.repeat_interleave(torch.arange(len(tasks)), n)
            pos = order[indptr[tasks][row] + torch.arange(int(n.sum())) - (torch.cumsum(n, 0) - n)[row]]
            emb = backbone(X[tasks]); logits = head(emb)
            if method == "CrowdLayer":
                out = layer(logits[row], worker[pos])
            else:
                out = layer(emb[row], logits[row], worker[pos])
            loss = F.cross_entropy(out, label[pos])
            opt.zero_grad(); loss.backward(); opt.step()
        if len(Xv):
            acc = float((predict(Xv).argmax(1).numpy() == a["yv"]).mean())
            if acc > best:
                best = acc; best_state = [p.detach().clone() for p in params]
    if best_state is not None:
        for p, s in zip(params, best_state): p.data.copy_(s)
    p = predict(Xt).numpy(); y = a["yt"]
    conf, pred = p.max(1), p.argmax(1)
    edges = np.linspace(0, 1, 16); ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any(): ece += m.mean() * abs((pred[m] == y[m]).mean() - conf[m].mean())
    print(json.dumps({"acc": float((pred == y).mean()), "ece": float(ece)}))
''')


def run_peer(dname: str, method: str, seed: int) -> dict:
    votes, data = load(dname)
    CACHE.mkdir(parents=True, exist_ok=True)
    arrays = CACHE / f"{dname}.npz"
    empty = np.zeros((0, data.n_features), np.float32)
    np.savez(arrays, x=data.train.features, xv=data.val.features if data.val else empty,
             yv=data.val.truth if data.val else np.zeros(0, np.int64), xt=data.test.features, yt=data.test.truth,
             task=votes.task, worker=votes.worker, label=votes.label, k=data.n_classes, n_workers=votes.n_workers,
             epochs=RECIPE["epochs"])
    script = CACHE / "crowdkit_run.py"
    script.write_text(PEER_SCRIPT)
    t0 = time.perf_counter()
    res = subprocess.run([str(PEER_PY), str(script), str(arrays), method, str(seed)], capture_output=True, text=True,
                         check=True)
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["seconds"] = time.perf_counter() - t0
    return out


# --------------------------------------------------------------------------- circles
# The three-circles check follows Lefort, Charlier, Joly & Salmon (TMLR 2024) and T. Lefort's thesis
# (Université de Montpellier 2024, chapter "Identify ambiguous tasks", sections "Implementation details" and
# "Three circles simulation"); what those texts leave open is marked "our choice" (see CIRCLES_NOTE).
CIRCLES_N = 750            # paper: 750 points in total ...
CIRCLES_TEST = 0.3         # ... split 70% train (525 tasks) / 30% test (225 points)
CIRCLES_NOISE = 0.13       # our choice: isotropic Gaussian sd (scikit-learn make_circles convention): the grid value
#                            of circles_calibration (validation draws, seeds 100-102) whose best worker is closest
#                            to 0.84 right, the paper's only figure on worker quality; main() checks it still is
CIRCLES_NOISE_GRID = (0.10, 0.12, 0.13, 0.14, 0.15)
CIRCLES_WORKER_ANCHOR = 0.84
CIRCLES_MLP = {"hidden": (30, 20, 20)}   # paper: "three dense layers (30, 20, 20)", batch 64
CIRCLES_RECIPE = dict(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4, batch_size=64, epochs=150,
                      scheduler="multistep", milestones=(50, 100), gamma=0.1)  # paper: SGD, 150 epochs, /10 at 50, 100
CIRCLES_T = 50             # paper: WAUM computed "with the same parameters for T = 50 epochs" (up to the first drop)
CIRCLES_ALPHA = 0.1


def three_circles(n: int, rng, noise: float = CIRCLES_NOISE):
    """``n`` points on three concentric circles: :func:`crowdwise.simulate.classifiers.three_circles`."""
    from crowdwise.simulate.classifiers import three_circles as draw

    return draw(n, rng, noise)


def circle_workers(seed: int, svc_c: float = 1.0, gb_depth: int = 3):
    """The paper's three workers: linear SVC, RBF SVC, gradient boosting (scikit-learn defaults unless the
    calibrated set-up says otherwise: ``svc_c`` is the RBF SVC's C, ``gb_depth`` boosting's max_depth)."""
    from crowdwise.simulate.classifiers import make_classifier

    return [make_classifier("linear-svc", seed), make_classifier("rbf-svc", seed, C=svc_c),
            make_classifier("boosting", seed, max_depth=gb_depth)]


def circle_crowd(seed: int, noise: float = CIRCLES_NOISE, n_fit: int | None = None, svc_c: float = 1.0,
                 gb_depth: int = 3):
    """One draw: 525 training tasks with the three workers' votes, 225 test points, the fitted workers.

    The crowd of ``crowdwise simulate --strategy classifiers --features three-circles``
    (:func:`crowdwise.simulate.classifiers.classifier_crowd`): each worker is fitted on its own independent draw
    of ``n_fit`` labelled points (default 525, as many as the training tasks; our choice: the paper does not say
    what the workers learnt from; fitting them on the training tasks themselves would make gradient boosting
    almost always right on them, 0.99, which cannot give the paper's WDS 0.81 below its best worker's 0.84).
    The draws are those this script made before the crowd moved into the library (same seed, same points and
    workers), so the cached runs stay valid.
    """
    from crowdwise.simulate.classifiers import classifier_crowd

    n_train = CIRCLES_N - int(round(CIRCLES_TEST * CIRCLES_N))
    crowd = classifier_crowd("three-circles", n_tasks=n_train, n_test=CIRCLES_N - n_train, n_fit=n_fit, noise=noise,
                             classifiers=circle_workers(seed, svc_c, gb_depth), seed=seed)
    return crowd.features, crowd.truth, crowd.test_features, crowd.test_truth, crowd.classifiers


def circles_calibration(seeds=(100, 101, 102)) -> dict:
    """Mean accuracy of each worker on the training tasks, per noise level, on validation draws (not the
    evaluation seeds 0-4): how CIRCLES_NOISE was picked (first reconstruction)."""
    import warnings

    out = {}
    for noise in CIRCLES_NOISE_GRID:
        accs = []
        for s in seeds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                x, y, _, _, workers = circle_crowd(s, noise)
            accs.append([float((w.predict(x) == y).mean()) for w in workers])
        out[f"{noise:.2f}"] = [round(float(v), 3) for v in np.mean(accs, 0)]
    return out


# Calibrated reconstruction (issue 5). Declared before any MLP of the grid was trained: a grid over what the paper
# leaves open, scored on validation draws (seeds 100-102, never the evaluation seeds) by the squared distance between
# our figures and the paper's published ones; nothing of WAUM is computed on the grid, so the choice is blind to it.
CIRCLES_GRID = {"noise": (0.10, 0.13),          # sd of the Gaussian noise
                "n_fit": (100, 200, 525),       # size of each worker's own labelled training draw
                "svc_c": (1.0, 0.1),            # RBF SVC's C: scikit-learn's default, or 10 times more regularised
                "gb_depth": (3, 1)}             # gradient boosting's max_depth: default 3, or stumps
CIRCLES_CALIB_SEEDS = (100, 101, 102)
CIRCLES_TARGETS = {"MV": 0.73, "DS": 0.75, "WDS": 0.81, "boosting": 0.84}  # MLP test accuracy on MV / DS / WDS
#   labels, and the test accuracy of gradient boosting ("the best worker, w3, reaches 0.84"); plus the squared
#   shortfall of boosting below the better of the two SVCs (the paper's ranking: boosting is the best worker)
CIRCLES_CALIBRATED = dict(noise=0.10, n_fit=100, svc_c=0.1, gb_depth=3)  # the grid's argmin (main() checks)
CIRCLES_EVAL_SEEDS = 10    # the paper's 10 repetitions (seeds 0-9)
CIRCLES_MORE_SEEDS = 30    # declared after the 10-seed run, before running them: seeds 0-29 at the argmin (more power)
CIRCLES_NEAR = 1.5         # ... and, on seeds 0-9, every other set-up whose distance is within 1.5 x the argmin's


def setup_key(setup: dict) -> str:
    return f"noise={setup['noise']:.2f},n_fit={setup['n_fit']},C={setup['svc_c']:g},depth={setup['gb_depth']}"


def grid_setups() -> list[dict]:
    import itertools

    keys = list(CIRCLES_GRID)
    return [dict(zip(keys, v)) for v in itertools.product(*(CIRCLES_GRID[k] for k in keys))]


def circles_problem(x, y, xt, yt, workers):
    """Votes of the three workers on the training tasks, the learning data, the workers' accuracies."""
    from crowdwise import Votes
    from crowdwise.learn.data import Split, TaskData

    labels = [clf.predict(x) for clf in workers]
    n = y.size
    votes = Votes.from_records(np.tile(np.arange(n), 3), np.repeat(np.arange(3), n), np.concatenate(labels),
                               n_classes=3, task_ids=np.arange(n))
    data = TaskData(Split("train", np.arange(n), y, features=x), None,
                    Split("test", np.arange(yt.size), yt, features=xt), np.arange(3))
    out = {"worker_accuracy": [float((lab == y).mean()) for lab in labels],
           "worker_test_accuracy": [float((clf.predict(xt) == yt).mean()) for clf in workers]}
    return votes, data, out


def circles_label_mlps(votes, data, seed, methods=("MV", "DS", "WDS")) -> dict:
    """The MLP (paper's recipe) trained on each method's labels: MV hard labels, DS / WDS soft labels (as the
    LabelMe / Music rows); test accuracy under the method's name, label accuracy under ``<method>_label_accuracy``."""
    from crowdwise.aggregate import make_strategy

    out = {}
    for m in methods:
        agg = make_strategy(m, random_state=seed).fit(votes)
        targets = agg.labels_ if m == "MV" else np.asarray(agg.probas_)
        out[f"{m.lower()}_label_accuracy"] = float((agg.labels_ == data.train.truth).mean())
        out[m] = train_on_labels(data, targets, seed, "mlp", CIRCLES_MLP, **CIRCLES_RECIPE)["test_accuracy"]
    return out


def circles_mv_ds(seed: int, setup: dict | None = None) -> dict:
    """MV and DS rows alone (for the first reconstruction, whose cached runs predate them)."""
    import torch

    torch.set_num_threads(1)
    votes, data, _ = circles_problem(*circle_crowd(seed, **(setup or {})))
    return circles_label_mlps(votes, data, seed, ("MV", "DS"))


def circles_grid_point(setup: dict, seeds=CIRCLES_CALIB_SEEDS) -> dict:
    """Validation figures of one set-up (no WAUM): worker test accuracies, MLP test accuracy on MV / DS / WDS labels,
    mean over the validation draws, and their squared distance to the paper's (see CIRCLES_TARGETS)."""
    import warnings

    import torch

    torch.set_num_threads(1)
    rows = []
    for s in seeds:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            votes, data, out = circles_problem(*circle_crowd(s, **setup))
        out.update(circles_label_mlps(votes, data, s))
        rows.append(out)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("MV", "DS", "WDS")}
    wt = np.mean([r["worker_test_accuracy"] for r in rows], 0)
    mean["worker_test_accuracy"] = [float(v) for v in wt]
    mean["worker_accuracy"] = [float(v) for v in np.mean([r["worker_accuracy"] for r in rows], 0)]
    mean["distance"] = circles_distance(mean)
    return mean


def circles_distance(fig: dict) -> float:
    """The calibration criterion (declared before the grid ran): squared distance to the paper's figures."""
    boost = fig["worker_test_accuracy"][2]
    d = sum((fig[m] - CIRCLES_TARGETS[m]) ** 2 for m in ("MV", "DS", "WDS"))
    d += (boost - CIRCLES_TARGETS["boosting"]) ** 2
    d += max(0.0, max(fig["worker_test_accuracy"][:2]) - boost) ** 2
    return float(d)


def run_circles(seed: int, form: str = "stacked", setup: dict | None = None) -> dict:
    import warnings

    import torch

    from crowdwise.aggregate import make_strategy
    from crowdwise.learn.aum import prune_mask, waum_scores

    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, y, xt, yt, workers = circle_crowd(seed, **(setup or {}))
    votes, data, out = circles_problem(x, y, xt, yt, workers)
    # MV and DS rows (stacked form only: the per-worker form shares the draw and these rows)
    out.update(circles_label_mlps(votes, data, seed, ("MV", "DS", "WDS") if form == "stacked" else ("WDS",)))
    wds = make_strategy("WDS", random_state=seed).fit(votes)
    w = waum_scores(votes, data, confusions="DS", form=form, model="mlp", model_options=CIRCLES_MLP,
                    config=config(seed, **{**CIRCLES_RECIPE, "epochs": CIRCLES_T}))
    keep = prune_mask(w.scores, CIRCLES_ALPHA)
    sub, sdata = subset(votes, data, keep)
    wds2 = make_strategy("WDS", random_state=seed).fit(sub)  # DS re-run on the pruned votes, as peerannot's WAUM
    out["pruned"] = int((~keep).sum())
    out["pruned_wrong_wds_share"] = float((wds.labels_[~keep] != y[~keep]).mean())
    out["WAUM+WDS"] = train_on_labels(sdata, np.asarray(wds2.probas_), seed, "mlp", CIRCLES_MLP,
                                      **CIRCLES_RECIPE)["test_accuracy"]
    return out


# --------------------------------------------------------------------------- table
def ms(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.3f} ± {v.std(ddof=1) if v.size > 1 else 0.0:.3f}"


def circles_calibrated(cached) -> dict | None:
    """The calibrated reconstruction: the grid on validation draws, its argmin, then the evaluation (seeds 0-9,
    stacked and per-worker WAUM) at the chosen set-up. Returns None (after printing the grid) while
    CIRCLES_CALIBRATED is not yet set to the argmin."""
    grid = {setup_key(g): cached(f"circles3-grid|{setup_key(g)}", lambda: circles_grid_point(g)) for g in grid_setups()}
    best = min(grid, key=lambda k: grid[k]["distance"])
    if CIRCLES_CALIBRATED.get("noise") is None:
        for k in sorted(grid, key=lambda k: grid[k]["distance"]):
            print(f"{k}: {grid[k]}")
        print(f"grid argmin: {best}; set CIRCLES_CALIBRATED to it")
        return None
    assert setup_key(CIRCLES_CALIBRATED) == best, f"grid picks {best}, CIRCLES_CALIBRATED is {CIRCLES_CALIBRATED}"
    key = setup_key(CIRCLES_CALIBRATED)
    runs = [cached(f"circles3|{key}|{s}", lambda: run_circles(s, setup=CIRCLES_CALIBRATED))
            for s in range(CIRCLES_EVAL_SEEDS)]
    for c, s in zip(runs, range(CIRCLES_EVAL_SEEDS)):
        c["per-worker"] = cached(f"circles3-per-worker|{key}|{s}",
                                 lambda: run_circles(s, "per-worker", CIRCLES_CALIBRATED))
    more = runs + [cached(f"circles3|{key}|{s}", lambda: run_circles(s, setup=CIRCLES_CALIBRATED))
                   for s in range(CIRCLES_EVAL_SEEDS, CIRCLES_MORE_SEEDS)]
    for c, s in zip(more, range(CIRCLES_MORE_SEEDS)):
        c["per-worker"] = cached(f"circles3-per-worker|{key}|{s}",
                                 lambda: run_circles(s, "per-worker", CIRCLES_CALIBRATED))
    near = {}
    for g in grid_setups():
        k = setup_key(g)
        if k != best and grid[k]["distance"] <= CIRCLES_NEAR * grid[best]["distance"]:
            near[k] = [cached(f"circles3|{k}|{s}", lambda: run_circles(s, setup=g)) for s in range(CIRCLES_EVAL_SEEDS)]
            for c, s in zip(near[k], range(CIRCLES_EVAL_SEEDS)):
                c["per-worker"] = cached(f"circles3-per-worker|{k}|{s}", lambda: run_circles(s, "per-worker", g))
    return {"grid": grid, "best": best, "runs": runs, "more": more, "near": near}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--only", choices=["labelme", "music", "circles"], action="append")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--tune", action="store_true")
    ap.add_argument("--no-doc", action="store_true")
    ap.add_argument("--circles-only", action="store_true",
                    help="run only the three-circles WAUM check and rewrite only its section of the doc")
    args = ap.parse_args()
    if args.circles_only:
        args.only = ["circles"]
    CACHE.mkdir(parents=True, exist_ok=True)
    cache_file = CACHE / ("tune.json" if args.tune else "runs.json")
    runs = json.loads(cache_file.read_text()) if cache_file.exists() else {}

    def cached(key, fn):
        if key not in runs:
            runs[key] = fn()
            cache_file.write_text(json.dumps(runs, indent=1))
            print(key, {k: (round(v, 4) if isinstance(v, float) else v) for k, v in runs[key].items()}, flush=True)
        return runs[key]

    if args.tune:
        return tune(cached)
    sets = args.only or ["labelme", "music", "circles"]
    seeds = range(args.seeds)
    methods = ["gold", *LABEL_METHODS, *CROWD_METHODS, "WAUM+WDS", "WAUM+CoNAL"]
    peers = [] if args.no_peers or not PEER_PY.exists() else ["CrowdLayer", "CoNAL"]
    table: dict = {}
    for d in (s for s in sets if s != "circles"):
        for m in methods:
            table[(d, m)] = [cached(f"{d}|{m}|{s}", lambda: run_method(d, m, s)) for s in seeds]
        for p in peers:
            table[(d, f"crowd-kit {p}")] = [cached(f"{d}|ck-{p}|{s}", lambda: run_peer(d, p, s)) for s in seeds]
    # "circles2": the set-up of Lefort et al. (2024), see CIRCLES_NOTE (older "circles|" entries are the first attempt)
    circles = [cached(f"circles2|{CIRCLES_NOISE}|{s}", lambda: run_circles(s)) for s in seeds] \
        if "circles" in sets else []
    for c, s in zip(circles, seeds):  # the per-worker form on the same draws (same seed = same crowd)
        c["per-worker"] = cached(f"circles2-per-worker|{CIRCLES_NOISE}|{s}", lambda: run_circles(s, "per-worker"))
    if circles:
        calib = cached("circles2-calibration", circles_calibration)
        best = min(calib, key=lambda k: abs(max(calib[k]) - CIRCLES_WORKER_ANCHOR))
        assert float(best) == CIRCLES_NOISE, f"calibration picks noise {best}, CIRCLES_NOISE is {CIRCLES_NOISE}"
        for c, s in zip(circles, seeds):  # MV / DS rows, added after the first run (same draws and seeds)
            if "MV" not in c:
                c.update(cached(f"circles2-mvds|{CIRCLES_NOISE}|{s}", lambda: circles_mv_ds(s)))
        circles3 = circles_calibrated(cached)
        if circles3 is None:
            return
    if sets == ["circles"]:  # splice the circles section into the existing doc, leave the rest as it is
        section = "\n".join(render_circles(circles, calib, circles3)) + "\n"
        print(section)
        if not args.no_doc:
            old = DOC.read_text() if DOC.exists() else ""
            head = old[:old.index("## WAUM on three circles")] if "## WAUM on three circles" in old else old
            DOC.write_text(head + section)
            print(f"wrote {DOC}")
        return
    text = render(table, circles, sets, len(seeds), calib if circles else None, circles3 if circles else None)
    print(text)
    if not args.no_doc:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(text)
        print(f"wrote {DOC}")


def tune(cached) -> None:
    """Validation accuracy (LabelMe val split, seed 0) of MV-trained and CrowdLayer models per recipe."""
    from crowdwise.aggregate import make_strategy
    from crowdwise.learn.crowd_layers import fit_crowd_layer
    from crowdwise.learn.data import make_dataset
    from crowdwise.learn.models import build_model
    from crowdwise.learn.train import evaluate, fit

    votes, data = load("labelme")
    mv = make_strategy("MV", random_state=0).fit(votes).labels_
    for lr in (1e-3, 1e-2):
        for epochs in (25, 50):
            def one(method):
                cfg = config(0, lr=lr, epochs=epochs)
                if method == "MV":
                    net = build_model("labelme", 8, n_features=512, seed=0)
                    fit(net, make_dataset(data.train, mv), config=cfg, val_set=make_dataset(data.val))
                else:
                    net = fit_crowd_layer(votes, data, "CrowdLayer", model="labelme", config=cfg).model
                return {"val_acc": float(evaluate(net, data.val, prefix="val_")[0]["val_accuracy"])}
            for method in ("MV", "CrowdLayer"):
                cached(f"tune|lr={lr}|epochs={epochs}|{method}", lambda: one(method))


NOTES = [
    "## Set-up",
    "",
    "- **LabelMe**: the 1,000 original training images (2,547 votes, 59 workers; not the 10,000 "
    "augmented images of Rodrigues & Pereira), 500 validation and 1,188 test images with truth. Features: "
    "VGG-16 convolutional maps **globally average-pooled to 512 values** (`LabelMe_VGG_avg_*.npy`); the "
    "published anchors (CrowdLayer .839, DS .812, MV .772, gold .912; Rodrigues & Pereira 2018) "
    "**flattened the 4×4×512 map** (8,192 values) and trained on the augmented set, so they are a reference, "
    "not the same experiment. Model: crowdwise's `labelme` head, Dense(128)–ReLU–Dropout(0.5)–Dense(8). "
    "The validation split picks the best epoch of every method (validation accuracy).",
    "- **Music**: 700 training songs (2,945 votes, 44 workers), 300 test songs; 124 features standardised "
    "with the training mean and sd (no label used). Model: MLP 124–128–10 with ReLU and Dropout(0.5). "
    "There is no validation split: every method trains 50 epochs and keeps the last one (no model "
    "selection, nothing tuned on Music).",
    "- **One recipe for every method** of a data set: Adam, lr 1e-3, batch 64 tasks, 50 epochs, no weight "
    "decay, no schedule; crowd layers get no weight decay either. The lr was chosen on LabelMe's validation "
    "split from {1e-3, 1e-2} × {25, 50} epochs with MV labels and CrowdLayer (grid below); Music reuses it. "
    "From the command line: `crowdwise aggregate-deep` and `crowdwise identify -s waum` default to this recipe; "
    "`crowdwise train` defaults to peerannot's (SGD, lr 0.01, weight decay 5e-4, lr divided by 10 at half and "
    "three quarters of the epochs), so the README's LabelMe `train` command passes `--optimizer adam --lr 1e-3 "
    "--weight-decay 0 --scheduler none --epochs 50` (at seed 0 it gives the MV row's run exactly: test accuracy "
    "0.838, ECE 0.039).",
    "- **Trained on labels**: the classifier is trained with cross-entropy on the soft labels of NaiveSoft, "
    "DS, GLAD and WDS (`probas_`) and on the hard MV labels (ties broken with the seed).",
    "- **Crowd layers** (`crowdwise aggregate-deep`): CrowdLayer (MW, identity init), CoNAL (com_emb 20, "
    "aux. hidden 128, λ = 0 and 1e-4), GeoCrowdNet (F) and (W) with λ = 0.01 (not tuned), confusions "
    "initialised at 0.8 on the diagonal. GeoCrowdNet (F) takes log det(F Fᵀ) per batch of tasks; a batch with "
    "fewer rows than classes (rank-deficient F Fᵀ) adds its coupled cross-entropy alone; none here: the last "
    "batch of an epoch has 40 rows on LabelMe (K = 8) and 60 on Music (K = 10).",
    f"- **WAUM**: stacked form, DS confusions, ψ5 margin, same recipe (50 epochs, no validation); the tasks "
    f"at or below the α = {WAUM_ALPHA} quantile are removed (10 of 1,000 on LabelMe, 7 of 700 on Music), "
    "then WDS on the remaining votes (classifier on its soft labels) or CoNAL (λ = 1e-4) on the remaining tasks.",
    "- **crowd-kit 1.4.2** (own venv, torch 2.13.0 CPU, run through a subprocess on the same arrays): its "
    "`CrowdLayer` (conn_type='mw') and `CoNAL` (com_emb_size 20) on the same backbone (Dense 128, ReLU, "
    "Dropout 0.5, Dense K), same optimiser, batches of tasks, epochs and best-on-validation, loss = "
    "cross-entropy of the layer's output as logits (crowd-kit ships layers, not a training loop). As shipped, "
    "crowd-kit's CrowdLayer multiplies the classifier's **logits** (Rodrigues' layer multiplies the "
    "probabilities), and its CoNAL adds `softmax(z) @ common` (probabilities, matrix not normalised) to "
    "`log(softmax(z) @ softmax(W_j))` (log-probabilities): the two terms are on different scales. "
    "We ran them as they are.",
    "- ECE: 15 equal-width confidence bins (`crowdwise.learn.metrics.expected_calibration_error`).",
    "",
]

# Why two pairs of LabelMe rows coincide at seed 0 (issue 21, items 5 and 6). The figures were measured by hand
# (seed-0 runs, gradient norms, learnt weights; see tests/learn/test_crowd_layers.py for the gradient checks), not
# recomputed by this script: re-measure them if the recipe or the crowd layers change. Rendered after the
# validation grid, before the three-circles section.
COINCIDE_NOTE = [
    "## Why CoNAL (λ=0) and (λ=1e-4), and GeoCrowdNet (W) and coupled cross-entropy, coincide at seed 0 on LabelMe",
    "",
    "At seed 0, CoNAL with λ = 0 and λ = 1e-4 both reach test accuracy 0.8519 (ECE 0.0574 both), and GeoCrowdNet "
    "(W, λ = 0.01) and plain coupled cross-entropy (`CoupledCE`, λ = 0) both 0.8628 (ECE 0.0518 and 0.0517). The "
    "regularisers are not lost: `tests/learn/test_crowd_layers.py` checks that the difference of the gradients with "
    "and without each term is the hand-derived gradient of the documented term (−λ Σⱼ ‖Πⱼ − Π_g‖_F for CoNAL, "
    "−λ log det(WᵀW + εI) and −λ log det(F Fᵀ + εI) for GeoCrowdNet) at λ = 1e-4 and λ = 1, and that a large λ "
    "changes the fit. They coincide on LabelMe because the term is small beside the votes' likelihood and the "
    "validation split keeps an early epoch:",
    "",
    "- Both terms act on the confusions only (not on the classifier): averaged over the 16 batches of one epoch "
    "(64 tasks each), the norm of the regulariser's gradient on the confusion logits is 0.028 of the likelihood's "
    "for CoNAL (λ = 1e-4, at the kept epoch) and 0.056-0.065 for GeoCrowdNet (W) (λ = 0.01, at initialisation and "
    "at the kept epoch). The classifier feels them only through the confusions. CoNAL's term has no gradient at all "
    "at initialisation: every Πⱼ starts equal to Π_g (0.8 on the diagonal), where the norm's (sub)gradient is 0; "
    "it acts once the likelihood has moved them apart.",
    "- Best-on-validation keeps epoch 6 (CoNAL) and epoch 3 (GeoCrowdNet, CCE) of 50, i.e. 96 and 48 Adam steps "
    "at lr 1e-3. By then the learnt confusions differ by up to 0.029 (CoNAL) and 0.017 (W) but the classifier's "
    "weights by at most 1.7e-5 and 2.5e-3 (weights up to 0.12), the test probabilities by at most 1.9e-4 and "
    "1.3e-2, and 0 and 2 of the 1,188 test predictions change (the 2 leave the count of right ones as it was).",
    "- The trajectories do part later: the validation accuracy differs from epoch 7 on (CoNAL, 38 of the 50 epochs "
    "differ) and from epoch 4 on (W, 40 of 50); the kept epoch is the last one before they part. Over the 5 seeds "
    "of the table CoNAL's two rows differ (0.846 ± 0.006 and 0.849 ± 0.005); CCE has no row.",
    "- A larger λ does change the LabelMe result at seed 0 (a check, nothing chosen from it): CoNAL with λ = 1e-2 "
    "and λ = 1 keeps epoch 3 and reaches 0.8628 and 0.8620 (λ = 0: 0.8519); GeoCrowdNet (W) with λ = 1 keeps "
    "epoch 2 and reaches 0.8476 (CCE: 0.8628).",
    "",
]

CIRCLES_NOTE = [
    "Reproduces the `three_circles` simulation of Lefort, Charlier, Joly & Salmon, \"Identify ambiguous tasks "
    "combining crowdsourced labels by weighting Areas Under the Margin\" (TMLR 2024), as described in T. Lefort's "
    "PhD thesis (Université de Montpellier, 2024; chapter \"Identify ambiguous tasks\", sections \"Implementation "
    "details\" and \"Three circles simulation\", table `tab:res3circles`). Made by "
    "`python benchmarks/learning.py --circles-only` (5 seeds; seed = data draw, workers, initial weights, shuffling).",
    "",
    "Set-up, and where each choice comes from:",
    "",
    f"- **Data** (paper): K = 3 concentric circles, {CIRCLES_N} points in total split 70% train / 30% test, i.e. "
    f"{CIRCLES_N - int(round(CIRCLES_TEST * CIRCLES_N))} training tasks and {int(round(CIRCLES_TEST * CIRCLES_N))} "
    "test points, a fresh draw per seed. The paper says it used scikit-learn's circle generator (\"`two_circles`\", "
    "i.e. `make_circles`) but gives neither radii nor noise. Our choice: radii 1/3, 2/3, 1, uniform angle, "
    f"isotropic Gaussian noise on both coordinates (the `make_circles` convention) of sd {CIRCLES_NOISE}, the value of a small grid "
    "whose best worker labels closest to 0.84 of the training tasks right on validation draws (seeds 100-102, "
    "never the evaluation seeds): 0.84 is the paper's only figure on worker quality (\"the best worker, w3, reaches 0.84 on test accuracy\"); "
    "grid below.",
    "- **Workers** (paper): n_worker = 3 scikit-learn classifiers, w1 `LinearSVC`, w2 `SVC` with RBF kernel, w3 "
    "gradient boosting; every worker answers every training task (3 votes per task). The paper does not say what "
    "the workers were fitted on nor their hyper-parameters. Our choice: scikit-learn defaults, each worker fitted on "
    "its own independent draw of 525 points with their true labels, so its votes on the training tasks are "
    "out-of-sample (fitting them on the training tasks themselves makes gradient boosting right on 0.99 of them, "
    "which cannot produce the paper's WDS result, 0.81, below its best worker's 0.84).",
    "- **Network and recipe** (paper): MLP with three dense hidden layers (30, 20, 20) (ReLU, then a linear "
    "layer to K = 3), batch 64, cross-entropy, SGD lr 0.1, momentum 0.9, weight decay 5e-4, 150 epochs, lr divided "
    "by 10 at epochs 50 and 100; no validation split in the simulation, so the last epoch is kept. The classifier "
    "is trained on the WDS soft labels (`probas_`).",
    f"- **WAUM** (paper): stacked form (one network on all (task, vote) pairs), DS confusions, ψ5 margin "
    f"(σ_y − σ_[2]), same network and optimiser for T = {CIRCLES_T} epochs (up to the first lr drop, Pleiss et al.'s "
    "guideline), trust s = ⟨diag π̂, σ^(T)⟩ from the last epoch; the tasks with WAUM at or below the α = 0.1 quantile "
    "are removed, DS is re-run on the remaining votes and WDS labels train the same MLP with the same recipe "
    "(as peerannot's `WAUM.run`). The per-worker form is shown too.",
    "- **Order of events, for the record**: a first run used sd 0.14, from a quick calibration on draws built "
    "slightly differently; on the grid recorded below 0.13 is the closer one (0.851 vs 0.827), so the rule gives "
    "0.13 and the table uses it. The 0.14 run (5 seeds): WDS 0.823 ± 0.031, stacked WAUM+WDS 0.811 ± 0.025 "
    "(difference −0.012 ± 0.007, better on 0 of 5 seeds), per-worker 0.822 ± 0.031 (−0.001 ± 0.007). Nothing "
    "else was changed between the two runs.",
    "- **Measure** (paper): test accuracy of the final MLP; the paper reports mean ± sd over 10 repetitions, "
    "we use 5 seeds.",
    "- Paper's figures (table `tab:res3circles`): WDS 0.81 ± 0.04, WDS + WAUM(α=0.1) 0.83 ± 0.03, "
    "WDS + WAUM(α=0.01) 0.80 ± 0.04, WDS + WAUM(α=0.25) 0.69 ± 0.02, MV 0.73, DS 0.75.",
]


CIRCLES_INTRO = [
    "Issue 5: does WDS + WAUM(α=0.1) beat WDS without pruning on the paper's three-circles simulation? Two "
    "reconstructions of the simulation follow, both made by `python benchmarks/learning.py --circles-only` (results "
    "cached in /tmp/crowdwise-learning/runs.json). The first fixed only the noise, on the paper's best-worker figure; "
    "the second calibrates the crowd on all the paper's figures (MV, DS, WDS, best worker and which worker is best) "
    "on validation draws, blind to WAUM, then evaluates on 10 seeds as the paper. Both keep WAUM's, WDS's and the "
    "MLP's hyper-parameters at the paper's values (none was tuned). Every row is the test accuracy of the same MLP "
    "trained on the labels named (MV: hard majority labels; DS, WDS: soft labels `probas_`), 225 test points per seed.",
]

CIRCLES_CALIB_NOTE = [
    "The paper leaves open what the workers were fitted on, their hyper-parameters, the radii and the noise; the "
    "first reconstruction fixed all of them but the noise by hand, and its crowd does not look like the paper's (RBF "
    "SVC best worker, MV/DS/WDS all ≈ 0.84 where the paper has 0.73/0.75/0.81). Here the open choices are set by a "
    "small grid declared before any of its MLPs was trained (`CIRCLES_GRID`, `circles_distance` in "
    "`benchmarks/learning.py`):",
    "",
    "- **Grid** (24 set-ups): noise sd ∈ {0.10, 0.13}; size of each worker's own labelled training draw n_fit ∈ "
    "{100, 200, 525}; the RBF SVC's C ∈ {1 (scikit-learn's default), 0.1}; gradient boosting's max_depth ∈ {3 "
    "(default), 1}. Radii (1/3, 2/3, 1), the linear SVC and everything downstream of the votes stay as in the first "
    "reconstruction.",
    "- **Criterion** (squared distance to the paper's published figures, mean over validation draws seeds 100-102, "
    "never the evaluation seeds): (MV − 0.73)² + (DS − 0.75)² + (WDS − 0.81)² + (boosting − 0.84)² + "
    "max(0, best SVC − boosting)², where MV, DS, WDS are the MLP's test accuracies on those labels and boosting / SVC "
    "the workers' test accuracies (the paper: \"the best worker, w3 [boosting], reaches 0.84 on test accuracy\"). "
    "WAUM is never run on the grid, so the choice cannot follow the WAUM gain.",
    "- **Disclosure**: before declaring the grid, a pilot looked at the workers' test accuracies alone (no MLP, no "
    "WAUM; same validation seeds) for noise {0.08, 0.10, 0.13} × n_fit {50, 100, 200, 525} × boosting depth {3, 1}, "
    "and at RBF SVC variants (γ = 'auto', C = 0.1): with scikit-learn's default SVC the RBF SVC is the best worker "
    "everywhere (near the Bayes rate), which is why the grid includes the more regularised C = 0.1 (with few points "
    "it falls well below boosting). The pilot is not part of the criterion.",
]

def circles_verdict(circles) -> str:
    parts, means = [], []
    for label, get in (("stacked", lambda c: c["WAUM+WDS"]), ("per-worker", lambda c: c["per-worker"]["WAUM+WDS"])):
        diff = np.array([get(c) - c["WDS"] for c in circles])
        wins = int((diff > 0).sum())
        sd = diff.std(ddof=1) if diff.size > 1 else 0.0
        means.append(diff.mean())
        parts.append(f"{label}: {diff.mean():+.3f} ± {sd:.3f} (better on {wins} of {diff.size} seeds)")
    stacked = means[0]
    if stacked > 0:
        word = "reproduced" if stacked >= 0.01 else "reproduced only in sign (within noise)"
    else:
        word = "not reproduced"
    return (f"**The claim that WDS + WAUM(α=0.1) beats WDS (stacked WAUM, as in the paper) is {word} here.** "
            "Mean difference in test accuracy (WAUM+WDS − WDS, same draw and seed): " + "; ".join(parts) + ".")


def circles_table(circles, label) -> list[str]:
    def m(key, form=None):
        return ms([(c[form] if form else c)[key] for c in circles])

    return ["| | MV | DS | WDS | WAUM(α=0.1) + WDS, stacked | WAUM(α=0.1) + WDS, per-worker |",
            "|---|---|---|---|---|---|",
            f"| {label} | {m('MV')} | {m('DS')} | {m('WDS')} | {m('WAUM+WDS')} | {m('WAUM+WDS', 'per-worker')} |",
            "| paper (10 repetitions) | 0.73 | 0.75 | 0.81 ± 0.04 | 0.83 ± 0.03 | |"]


def diff_cell(runs, get) -> str:
    d = np.array([get(c) - c["WDS"] for c in runs])
    return f"{d.mean():+.3f} ± {d.std(ddof=1):.3f} ({int((d > 0).sum())}/{d.size})"


def t_interval(d) -> tuple[float, float]:
    from scipy import stats

    d = np.asarray(d, dtype=float)
    half = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
    return d.mean() - half, d.mean() + half


def best_gain(c3) -> list[float]:
    return [float(np.mean([c["WAUM+WDS"] - c["WDS"] for c in rs]))
            for rs in [c3.get("more", c3["runs"]), *c3.get("near", {}).values()]]


def circles_conclusion(c3) -> list[str]:
    grid, best, runs, more = c3["grid"], c3["best"], c3["runs"], c3.get("more", c3["runs"])
    fig = grid[best]
    order = [k for k in grid if grid[k]["MV"] < grid[k]["DS"] < grid[k]["WDS"]]
    st = [c["WAUM+WDS"] - c["WDS"] for c in more]
    pw = [c["per-worker"]["WAUM+WDS"] - c["WDS"] for c in more]
    (a, b), (a2, b2) = t_interval(st), t_interval(pw)
    m = {k: np.mean([c[k] for c in more]) for k in ("MV", "DS", "WDS")}
    ordered = (f" except with all three at {min(grid[k]['MV'] for k in order):.2f}-"
               f"{max(grid[k]['WDS'] for k in order):.2f} ({len(order)} set-up{'s' if len(order) != 1 else ''})"
               if order else "")
    return [
        "**Conclusion (calibrated reconstruction).** The calibration does what it was asked: boosting is now the best "
        f"worker at {fig['worker_test_accuracy'][2]:.2f} (paper 0.84), and the MLP on aggregated labels falls below it "
        f"(WDS {fig['WDS']:.2f} on validation, {m['WDS']:.2f} over seeds 0-{len(more) - 1}), i.e. the aggregated "
        "labels now hurt as in the paper, and WAUM finds wrong labels (the pruned tasks carry "
        f"{np.mean([c['pruned_wrong_wds_share'] for c in runs]):.2f} wrong WDS labels against "
        f"{1 - np.mean([c['wds_label_accuracy'] for c in runs]):.2f} overall). The match is not exact: over seeds "
        f"0-{len(more) - 1} MV "
        f"{m['MV']:.2f} / DS {m['DS']:.2f} / WDS {m['WDS']:.2f} against the paper's 0.73 / 0.75 / 0.81, and on our "
        "crowds DS does not beat MV (its labels are less accurate: "
        f"{np.mean([c['ds_label_accuracy'] for c in more]):.2f} against "
        f"{np.mean([c['mv_label_accuracy'] for c in more]):.2f}); no grid set-up gives "
        f"the paper's order MV < DS < WDS{ordered}. Even so, **pruning with WAUM(α=0.1) does not beat "
        f"WDS here**: over the paper's 10 repetitions the stacked difference is {np.mean(st[:len(runs)]):+.3f} "
        f"(better on {sum(x > 0 for x in st[:len(runs)])} of {len(runs)} seeds), and "
        f"over seeds 0-{len(more) - 1} it is {np.mean(st):+.3f} (95% t-interval {a:+.3f} to {b:+.3f}; better on "
        f"{sum(x > 0 for x in st)} of {len(st)} seeds); per-worker {np.mean(pw):+.3f} ({a2:+.3f} to {b2:+.3f}). "
        "The set-ups nearly as close to the paper's figures give the same picture (table above). The paired "
        f"differences have an sd of {np.std(st, ddof=1):.3f} from seed to seed (the MLP trained on noisy labels is "
        f"itself unstable: seed {int(np.argmin(st))} loses {-min(st):.2f}, seed {int(np.argmax(st))} gains "
        f"{max(st):.2f}), so a +0.02 gain measured over 10 unpaired repetitions with sds of 0.03-0.04, as the "
        f"paper's, cannot be told from zero; with {len(st)} paired seeds the upper end of our interval, {b:+.3f}, is "
        f"{'just below' if 0.015 < b < 0.02 else 'below' if b < 0.02 else 'above'} the paper's +0.02. What remains "
        "open: the paper's own crowd (radii, noise, the workers' training data and settings) is not published, and a "
        "crowd that matches its figures more closely might behave differently; of the "
        f"{1 + len(c3.get('near', {}))} set-ups we evaluated (the argmin and the {len(c3.get('near', {}))} nearly as "
        f"close), the best mean stacked difference is {max(best_gain(c3)):+.3f}.",
    ]


def render_calibrated(c3) -> list[str]:
    grid, best, runs = c3["grid"], c3["best"], c3["runs"]
    n = len(runs)
    fig = grid[best]
    wt = np.mean([c["worker_test_accuracy"] for c in runs], 0)
    wa = np.mean([c["worker_accuracy"] for c in runs], 0)
    lines = ["### Calibrated reconstruction: the crowd matched to all the paper's figures", "", *CIRCLES_CALIB_NOTE, "",
             "Grid (validation draws, seeds 100-102; MLP test accuracy on MV / DS / WDS labels, workers' test "
             "accuracy linear SVC / RBF SVC / boosting; sorted by distance):", "",
             "| noise sd | n_fit | RBF SVC C | boosting depth | MV | DS | WDS | workers (test) | distance |",
             "|---|---|---|---|---|---|---|---|---|"]
    for k in sorted(grid, key=lambda k: grid[k]["distance"]):
        g = grid[k]
        parts = dict(kv.split("=") for kv in k.split(","))
        lines.append(f"| {parts['noise']} | {parts['n_fit']} | {parts['C']} | {parts['depth']} | {g['MV']:.3f} | "
                     f"{g['DS']:.3f} | {g['WDS']:.3f} | " + " / ".join(f"{v:.3f}" for v in g["worker_test_accuracy"])
                     + f" | {g['distance']:.4f} |" + (" ← chosen" if k == best else ""))
    lines += ["", f"Chosen set-up (argmin): **{best}**. Its validation figures against the paper's: MV {fig['MV']:.3f} "
              f"(0.73), DS {fig['DS']:.3f} (0.75), WDS {fig['WDS']:.3f} (0.81), boosting {fig['worker_test_accuracy'][2]:.3f} "
              f"(0.84), workers' ranking by test accuracy " +
              " > ".join(n_ for _, n_ in sorted(zip(fig["worker_test_accuracy"], ("linear SVC", "RBF SVC", "boosting")),
                                                reverse=True)) + " (paper: boosting first).", "",
              f"Evaluation at the chosen set-up (seeds 0-{n - 1}, never used by the grid), made by "
              "`python benchmarks/learning.py --circles-only`:", "",
              *circles_table(runs, f"test accuracy ({n} seeds)"), "",
              circles_verdict(runs), "",
              "| seed | MV | DS | WDS | WAUM+WDS stacked | WAUM+WDS per-worker | stacked − WDS | per-worker − WDS |",
              "|---|---|---|---|---|---|---|---|"]
    for s, c in enumerate(runs):
        pw = c["per-worker"]["WAUM+WDS"]
        lines.append(f"| {s} | {c['MV']:.3f} | {c['DS']:.3f} | {c['WDS']:.3f} | {c['WAUM+WDS']:.3f} | {pw:.3f} | "
                     f"{c['WAUM+WDS'] - c['WDS']:+.3f} | {pw - c['WDS']:+.3f} |")
    more, near = c3.get("more", []), c3.get("near", {})
    if len(more) > n or near:
        lines += ["", f"Checks declared after the {n}-seed run and before running them (the 10-seed run stays the "
                  f"result): (a) seeds 0-{CIRCLES_MORE_SEEDS - 1} at the chosen set-up, for a tighter paired "
                  f"difference; (b) every other grid set-up whose distance is within {CIRCLES_NEAR:g} × the argmin's "
                  "(the grid's choice is not sharp), seeds 0-9. Paired differences as mean ± sd (seeds better / n):", "",
                  "| set-up | distance | seeds | MV | DS | WDS | stacked | per-worker | stacked − WDS | per-worker − WDS |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        rows = [(best, more)] if len(more) > n else []
        rows += sorted(near.items(), key=lambda kv: grid[kv[0]]["distance"])
        for k, rs in rows:
            lines.append(f"| {k} | {grid[k]['distance']:.4f} | 0-{len(rs) - 1} | " +
                         " | ".join(ms([c[m] for c in rs]) for m in ("MV", "DS", "WDS", "WAUM+WDS")) + " | " +
                         ms([c["per-worker"]["WAUM+WDS"] for c in rs]) + " | " +
                         diff_cell(rs, lambda c: c["WAUM+WDS"]) + " | " +
                         diff_cell(rs, lambda c: c["per-worker"]["WAUM+WDS"]) + " |")
    lines += ["", "Worker accuracy (linear SVC, RBF SVC, boosting), mean over the evaluation seeds: on the training "
              f"tasks {', '.join(format(v, '.3f') for v in wa)}; on the test points {', '.join(format(v, '.3f') for v in wt)}. "
              f"Label accuracy MV {np.mean([c['mv_label_accuracy'] for c in runs]):.3f}, DS "
              f"{np.mean([c['ds_label_accuracy'] for c in runs]):.3f}, WDS "
              f"{np.mean([c['wds_label_accuracy'] for c in runs]):.3f}; tasks pruned "
              f"{np.mean([c['pruned'] for c in runs]):.0f}; share of wrong WDS labels among the pruned tasks: stacked "
              f"{np.mean([c['pruned_wrong_wds_share'] for c in runs]):.3f}, per-worker "
              f"{np.mean([c['per-worker']['pruned_wrong_wds_share'] for c in runs]):.3f} (among all tasks "
              f"{1 - np.mean([c['wds_label_accuracy'] for c in runs]):.3f}).", "", *circles_conclusion(c3), ""]
    return lines


def render_circles(circles, calib=None, circles3=None) -> list[str]:
    def m(key):
        return ms([c[key] for c in circles])

    wa = np.mean([c["worker_accuracy"] for c in circles], 0)
    wt = np.mean([c["worker_test_accuracy"] for c in circles], 0)
    ratio = np.mean([c["pruned_wrong_wds_share"] for c in circles]) / \
        max(1e-12, 1 - np.mean([c["wds_label_accuracy"] for c in circles]))
    lines = ["## WAUM on three circles", "", *CIRCLES_INTRO, "",
             "### First reconstruction: noise calibrated on the best worker alone", "", *CIRCLES_NOTE, "",
             *circles_table(circles, f"test accuracy ({len(circles)} seeds)"),
             "", circles_verdict(circles), "",
             "What differs from the paper, and why the claim may not carry over: (1) the paper does not say what "
             "the workers were fitted on, their hyper-parameters, the circles' radii or the noise, so our crowd is "
             "a reconstruction: in ours the RBF SVC is the best worker, in the paper gradient boosting is; (2) in "
             "the paper the MLP on WDS labels (0.81) stays below the best worker (0.84), i.e. the aggregated labels "
             "hurt; here WDS labels are about as good as the best worker and the MLP on them matches it, which "
             "leaves little for pruning to recover; (3) WAUM does find the doubtful tasks (the pruned 10% hold "
             f"{ratio:.1f} times the base rate of wrong WDS labels, see below), but they sit on the class boundaries, and "
             "removing them costs the MLP boundary information that outweighs the label noise removed; (4) the "
             "paper's own gain, +0.02 with sds of 0.03-0.04 over 10 unpaired repetitions, is within its noise; we "
             "use 5 paired seeds. No hyper-parameter of WAUM, WDS or the MLP was tuned: all are the paper's.", "",
             f"Per seed (0-{len(circles) - 1}), WDS / stacked / per-worker test accuracy: " +
             "; ".join(f"{c['WDS']:.3f} / {c['WAUM+WDS']:.3f} / {c['per-worker']['WAUM+WDS']:.3f}" for c in circles) +
             ". WAUM+WDS − WDS per seed: stacked " +
             ", ".join(format(c["WAUM+WDS"] - c["WDS"], "+.3f") for c in circles) + "; per-worker " +
             ", ".join(format(c["per-worker"]["WAUM+WDS"] - c["WDS"], "+.3f") for c in circles) + ".",
             "",
             "Worker accuracy (linear SVC, RBF SVC, boosting), mean over seeds: on the training tasks "
             f"{', '.join(format(v, '.3f') for v in wa)}; on the test points {', '.join(format(v, '.3f') for v in wt)}. "
             f"Label accuracy MV {np.mean([c['mv_label_accuracy'] for c in circles]):.3f}, DS "
             f"{np.mean([c['ds_label_accuracy'] for c in circles]):.3f}, "
             f"WDS {np.mean([c['wds_label_accuracy'] for c in circles]):.3f}; "
             f"tasks pruned {np.mean([c['pruned'] for c in circles]):.0f}; share of wrong WDS labels among the pruned "
             f"tasks: stacked {np.mean([c['pruned_wrong_wds_share'] for c in circles]):.3f}, per-worker "
             f"{np.mean([c['per-worker']['pruned_wrong_wds_share'] for c in circles]):.3f} (among all tasks "
             f"{1 - np.mean([c['wds_label_accuracy'] for c in circles]):.3f}).", ""]
    if calib:
        lines += ["Noise calibration (validation draws, seeds 100-102; worker accuracy on the training tasks, "
                  "linear SVC / RBF SVC / boosting):", "", "| noise sd | linear SVC | RBF SVC | boosting |",
                  "|---|---|---|---|"]
        lines += [f"| {k} | " + " | ".join(f"{v:.3f}" for v in vals) + " |" for k, vals in calib.items()]
        lines.append("")
    if circles3:
        lines += render_calibrated(circles3)
    return lines


def findings(table, ds) -> list[str]:
    """Plain statements computed from the table (so that they stay true when it is re-run)."""
    def acc(d, m):
        r = table.get((d, m))
        return None if not r else float(np.mean([x["acc"] for x in r]))

    out = ["## Reading", ""]
    names = {"labelme": "LabelMe", "music": "Music"}
    for d in ds:
        crowd = {m: acc(d, m) for m in [*LABEL_METHODS, *CROWD_METHODS, "WAUM+WDS", "WAUM+CoNAL"] if acc(d, m)}
        best = max(crowd, key=crowd.get)
        out.append(f"- {names[d]}: best crowd method {best} ({crowd[best]:.3f}); gold {acc(d, 'gold'):.3f}; "
                   f"MV labels {crowd['MV']:.3f}. WAUM(α={WAUM_ALPHA}) + WDS vs WDS: "
                   f"{crowd['WAUM+WDS'] - crowd['WDS']:+.3f}; WAUM + CoNAL vs CoNAL (λ=1e-4): "
                   f"{crowd['WAUM+CoNAL'] - crowd['CoNAL (λ=1e-4)']:+.3f}. crowd-kit vs crowdwise: CrowdLayer "
                   f"{acc(d, 'crowd-kit CrowdLayer') or float('nan'):.3f} vs {crowd['CrowdLayer']:.3f}, CoNAL "
                   f"{acc(d, 'crowd-kit CoNAL') or float('nan'):.3f} vs {crowd['CoNAL (λ=1e-4)']:.3f} (λ=1e-4).")
    if "labelme" in ds:
        out.append(f"- Against the published LabelMe anchors (8,192 flattened features, augmented training set): "
                   f"our MV-trained classifier reaches {acc('labelme', 'MV'):.3f} (published .772) and the gold "
                   f"one {acc('labelme', 'gold'):.3f} (published .912): the averaged features, the original "
                   "1,000 images and best-epoch selection on the validation split give every method a stronger "
                   "start, so the gaps between methods are smaller than in the paper (most are within 1-2 sd "
                   "over 5 seeds).")
    out.append("")
    return out


def render(table, circles, sets, n_seeds, calib=None, circles3=None) -> str:
    lines = [
        "# Learning from crowds: LabelMe and Music features",
        "",
        "Made by `python benchmarks/learning.py` (5 seeds; `--tune` prints the validation grid).",
        "Test accuracy and expected calibration error (ECE, 15 equal-width bins), mean ± sd over "
        f"{n_seeds} seeds (seed = initial weights, shuffling, tie breaks).",
        "",
    ]
    names = {"labelme": "LabelMe", "music": "Music"}
    ds = [d for d in ("labelme", "music") if d in sets]
    if ds:
        head = "| method | " + " | ".join(f"{names[d]} accuracy | {names[d]} ECE" for d in ds) + " |"
        lines += [head, "|---" * (1 + 2 * len(ds)) + "|"]
        order = ["gold", *LABEL_METHODS, *CROWD_METHODS, "WAUM+WDS", "WAUM+CoNAL", "crowd-kit CrowdLayer",
                 "crowd-kit CoNAL"]
        label = {"gold": "gold labels (upper bound)", "WAUM+WDS": f"WAUM(α={WAUM_ALPHA}) + WDS",
                 "WAUM+CoNAL": f"WAUM(α={WAUM_ALPHA}) + CoNAL (λ=1e-4)"}
        for m in order:
            if not any((d, m) in table for d in ds):
                continue
            cells = []
            for d in ds:
                r = table.get((d, m))
                cells += [ms([x["acc"] for x in r]), ms([x["ece"] for x in r])] if r else ["", ""]
            name = label.get(m, f"trained on {m} labels" if m in LABEL_METHODS else m)
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    if "labelme" in ds:
        crowd = [m for m in [*LABEL_METHODS, *CROWD_METHODS, "WAUM+WDS", "WAUM+CoNAL"] if ("labelme", m) in table]
        best = max(crowd, key=lambda m: np.mean([x["acc"] for x in table[("labelme", m)]]))
        best_acc = np.mean([x["acc"] for x in table[("labelme", best)]])
        lines += [f"Best crowd method on LabelMe: **{best}**, {best_acc:.3f} "
                  f"({'meets' if best_acc >= 0.85 else 'misses'} the goal of 0.85).", ""]
    lines += findings(table, ds)
    lines += NOTES
    tune_file = CACHE / "tune.json"
    if tune_file.exists():
        grid = json.loads(tune_file.read_text())
        lines += ["Validation grid (`--tune`: LabelMe validation split, seed 0; best epoch on validation):", "",
                  "| lr | epochs | MV labels | CrowdLayer |", "|---|---|---|---|"]
        for lr in (1e-3, 1e-2):
            for ep in (25, 50):
                cells = [grid.get(f"tune|lr={lr}|epochs={ep}|{m}", {}).get("val_acc") for m in ("MV", "CrowdLayer")]
                lines.append(f"| {lr:g} | {ep} | " + " | ".join("" if c is None else f"{c:.3f}" for c in cells) + " |")
        lines.append("")
    if "labelme" in ds:
        lines += COINCIDE_NOTE
    if circles:
        lines += render_circles(circles, calib, circles3)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
