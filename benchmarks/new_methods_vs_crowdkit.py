"""MMSR, ZBS, IWMV and BWA (issue 16) against crowd-kit, side by side, on the same votes.

For each real data set of ``../shared/datasets`` (or ``$CROWDWISE_DATASETS``) and a
simulated 500k-vote crowd (50,000 tasks x 10 votes, K = 10, 1,000 workers: the generator
of ``benchmarks/speed.py``, whose worker kinds are described there), this script fits

- ours, in this Python: ``MMSR``, ``MMSR[crowdkit_compat=True]``,
  ``MMSR[signs=positive]``, ``ZBS``, ``IWMV``, ``BWA`` (ties to the smallest class, as
  crowd-kit's ``idxmax``);
- crowd-kit 1.4.2's ``MMSR`` and ``ZeroBasedSkill``, each in a fresh process of another
  Python (a virtual environment with crowd-kit; default ``/tmp/ck/bin/python``, made
  with ``python -m venv /tmp/ck && /tmp/ck/bin/pip install crowd-kit==1.4.2``), on the
  same integer ``task, worker, label`` table (duplicates included) written to a temporary
  CSV before its timer starts,

and prints one table: accuracy on the tasks with a known truth, fit time, and for the
pairs of the same method (``MMSR`` / ``ck:MMSR`` and ``ZBS`` / ``ck:ZeroBasedSkill``) the
time ratio crowd-kit / ours. A crowd-kit run that fails (it raises on zheng_product; on
the 500k crowd its sign determination needs a dense ``(workers + positive pairs)^2``
matrix) is reported with its error and the time it ran before failing, a lower bound of
its fit time. crowd-kit's child runs under an address-space limit (``--ck-memory-gb``) so
that such a run fails instead of exhausting the machine.

Run by hand, not by CI::

    python benchmarks/new_methods_vs_crowdkit.py                       # everything
    python benchmarks/new_methods_vs_crowdkit.py --datasets rte,sim500k --timeout 7200
    python benchmarks/new_methods_vs_crowdkit.py --no-crowdkit         # ours only

Our fit time is the best of ``--repeat`` fits (default 3) in this process; crowd-kit's is
one fit (its ``fit_predict``; for MMSR the phases are timed apart: covariance matrix,
M-MSR loop with sign determination, weighted vote).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

OURS = ["MMSR", "MMSR[crowdkit_compat=True]", "MMSR[signs=positive]", "ZBS", "IWMV", "BWA"]
CROWDKIT = ["MMSR", "ZeroBasedSkill"]
PAIRS = {"MMSR": "MMSR", "MMSR[crowdkit_compat=True]": "MMSR", "ZBS": "ZeroBasedSkill"}
SIM = {"n_tasks": 50_000, "n_workers": 1_000, "n_classes": 10, "votes_per_task": 10, "seed": 20240601}

# published figures quoted in the issue: crowd-kit's M-MSR (its documentation) and BWA
# (Li, Rubinstein & Cohn 2019, the authors' notebook)
PUBLISHED = {
    "ck:MMSR": {"zheng_sentiment": 0.937, "zheng_relevance": 0.425, "adult_content2": 0.751},
    "BWA": {"zheng_product": 0.9194, "zheng_sentiment": 0.956, "zheng_face": 0.6182, "adult_content2": 0.7417,
            "bluebirds": 0.7593, "zheng_dog": 0.8315, "rte": 0.9275, "web_relevance": 0.8225,
            "weather_sentiment_amt": 0.86, "music_genre": 0.7857, "sentiment_polarity": 0.917},
}

CHILD = r'''
import json, sys, time, traceback
import numpy as np, pandas as pd
from crowdkit.aggregation import MMSR, ZeroBasedSkill
method, votes_csv, out_npy = sys.argv[1:4]
df = pd.read_csv(votes_csv)
res = {"phases": {}}
t0 = time.perf_counter()
try:
    if method == "MMSR":
        m = MMSR()
        t = time.perf_counter(); m._construnct_covariation_matrix(df[["task", "worker", "label"]])
        res["phases"]["covariance"] = time.perf_counter() - t
        t = time.perf_counter(); m._m_msr(); res["phases"]["m_msr_and_signs"] = time.perf_counter() - t
        res["n_iter"] = len(m.loss_history_)
        t = time.perf_counter(); labels = m.predict(df); res["phases"]["vote"] = time.perf_counter() - t
    else:
        m = ZeroBasedSkill()
        labels = m.fit_predict(df)
    res["time_s"] = time.perf_counter() - t0
    out = np.full(int(df["task"].max()) + 1, -1, dtype=np.int64)
    ok = labels.notna().to_numpy()
    out[labels.index.to_numpy()[ok].astype(np.int64)] = labels.to_numpy()[ok].astype(np.int64)
    np.save(out_npy, out)
except BaseException as exc:  # MemoryError included: report it as a result
    res["time_s"] = time.perf_counter() - t0
    res["error"] = f"{type(exc).__name__}: {exc}"[:200]
print(json.dumps(res))
'''


def datasets_folder() -> Path:
    env = os.environ.get("CROWDWISE_DATASETS")
    return Path(env) if env else ROOT.parent / "shared" / "datasets"


def load_real(name: str):
    from crowdwise.evaluate.benchmark import load_benchmark_data

    d = load_benchmark_data(datasets_folder() / name)
    return d.votes, d.truth


def load_sim():
    from speed import generate

    from crowdwise import Votes

    task, worker, label, truth, _ = generate(**SIM)
    votes = Votes(task=task, worker=worker, label=label, task_ids=np.arange(SIM["n_tasks"]),
                  worker_ids=np.arange(SIM["n_workers"]), classes=np.arange(SIM["n_classes"]))
    return votes, truth


def accuracy(labels: np.ndarray, truth: np.ndarray) -> float:
    ok = truth >= 0
    lab = np.full(truth.size, -1, dtype=np.int64)
    lab[:min(labels.size, truth.size)] = labels[:truth.size]
    return float(np.mean(lab[ok] == truth[ok]))


def run_ours(spec: str, votes, truth, repeat: int) -> dict:
    from crowdwise.aggregate import make_strategy

    best, model = np.inf, None
    for _ in range(repeat):
        model = make_strategy(spec, random_state=0, tie="smallest")
        t0 = time.perf_counter()
        model.fit(votes)
        best = min(best, time.perf_counter() - t0)
    return {"accuracy": accuracy(model.labels_, truth), "time_s": best,
            "n_iter": np.asarray(getattr(model, "n_iter_", np.nan)).max()}


def run_crowdkit(method: str, csv: Path, truth: np.ndarray, python: str, timeout: float, memory_gb: float,
                 workdir: Path) -> dict:
    script = workdir / "ck_child.py"
    script.write_text(CHILD)
    out = workdir / f"ck_{method}.npy"
    if out.exists():
        out.unlink()

    def limit():  # an address-space cap: a dense allocation fails instead of eating the machine
        cap = int(memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    t0 = time.perf_counter()
    try:
        proc = subprocess.run([python, str(script), method, str(csv), str(out)], capture_output=True, text=True,
                              timeout=timeout, preexec_fn=limit, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s", "time_s": time.perf_counter() - t0, "lower_bound": True}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:200],
                "time_s": time.perf_counter() - t0, "lower_bound": True}
    res = json.loads(lines[-1])
    if "error" in res:
        res["lower_bound"] = True
        return res
    res["accuracy"] = accuracy(np.load(out), truth)
    return res


def fmt_time(r: dict) -> str:
    if "time_s" not in r:
        return "-"
    return (">" if r.get("lower_bound") else "") + f"{r['time_s']:.3g}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default="all", help="comma-separated names (real sets and/or sim500k), or all")
    p.add_argument("--ck-python", default="/tmp/ck/bin/python", help="a Python with crowd-kit 1.4.2")
    p.add_argument("--no-crowdkit", action="store_true")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per crowd-kit fit")
    p.add_argument("--ck-memory-gb", type=float, default=16.0, help="address-space cap of crowd-kit's process")
    p.add_argument("--repeat", type=int, default=3, help="our fits per (method, set); the best time is kept")
    p.add_argument("--json", type=Path, help="also write every result to this file")
    args = p.parse_args(argv)

    real = sorted(d.name for d in datasets_folder().iterdir() if (d / "votes.csv").is_file())
    names = real + ["sim500k"] if args.datasets == "all" else [s.strip() for s in args.datasets.split(",")]
    results: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="crowdwise-newmethods-") as tmp:
        tmp = Path(tmp)
        for name in names:
            votes, truth = load_sim() if name == "sim500k" else load_real(name)
            row: dict[str, dict] = {}
            for spec in OURS:
                row[spec] = run_ours(spec, votes, truth, args.repeat)
                print(f"{name:24s} {spec:28s} acc {row[spec]['accuracy']:.4f}  {row[spec]['time_s']:.3f} s",
                      flush=True)
            if not args.no_crowdkit:
                csv = tmp / "votes.csv"
                with open(csv, "w") as f:
                    f.write("task,worker,label\n")
                    np.savetxt(f, np.c_[votes.task, votes.worker, votes.label], fmt="%d", delimiter=",")
                for method in CROWDKIT:
                    r = run_crowdkit(method, csv, truth, args.ck_python, args.timeout, args.ck_memory_gb, tmp)
                    row["ck:" + method] = r
                    acc = f"{r['accuracy']:.4f}" if "accuracy" in r else r.get("error", "")
                    print(f"{name:24s} {'ck:' + method:28s} acc {acc}  {fmt_time(r)} s {r.get('phases', '')}",
                          flush=True)
            results[name] = row
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))
    print()
    print(table(results, names))
    return 0


def table(results: dict, names: list[str]) -> str:
    cols = OURS + ([c for c in ("ck:MMSR", "ck:ZeroBasedSkill") if any(c in results[n] for n in names)])
    out = ["Accuracy (tasks with a known truth; ties to the smallest class)", "",
           "| data set | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for n in names:
        cells = []
        for c in cols:
            r = results[n].get(c, {})
            cell = f"{r['accuracy']:.4f}" if "accuracy" in r else ("fails" if "error" in r else "-")
            pub = PUBLISHED.get(c, {}).get(n)
            cells.append(cell + (f" (pub. {pub})" if pub is not None else ""))
        out.append(f"| {n} | " + " | ".join(cells) + " |")
    means = []
    for c in cols:
        acc = [results[n][c]["accuracy"] for n in names if n != "sim500k" and "accuracy" in results[n].get(c, {})]
        means.append(f"{np.mean(acc):.4f} ({len(acc)})" if acc else "-")
    out.append("| mean of the real sets (n) | " + " | ".join(means) + " |")
    out += ["", ("Fit time in seconds (ours: best of the repeats; >: crowd-kit failed or timed out after that long), "
                 "and crowd-kit / ours"), "",
            "| data set | " + " | ".join(cols) + " | " + " | ".join(f"ck / {o}" for o in PAIRS) + " |",
            "|---" * (len(cols) + len(PAIRS) + 1) + "|"]
    for n in names:
        cells = [fmt_time(results[n].get(c, {})) for c in cols]
        ratios = []
        for ours, ck in PAIRS.items():
            a, b = results[n].get(ours, {}), results[n].get("ck:" + ck, {})
            if "time_s" in a and "time_s" in b:
                ratios.append(("> " if b.get("lower_bound") else "") + f"{b['time_s'] / a['time_s']:.0f}x")
            else:
                ratios.append("-")
        out.append(f"| {n} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
