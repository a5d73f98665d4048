"""Scale benchmark: a Pl@ntNet-shaped crowd, loaded and aggregated on one machine.

Generates (once, cached) a synthetic crowd with the shape of Pl@ntNet-CrowdSWE —
9M votes, 823k users, 6.7M observations, K = 11,425 species, heavy-tailed user activity
(most users vote once or twice, a few thousands of times), one author per observation
who votes on it, species popularity following a power law — writes it to Parquet, then
times, each in a fresh process so that peak memory is the step's own:

- loading the Parquet file into ``crowdwise.Votes``;
- MV, WAWA, TwoThird, the Pl@ntNet aggregation and one-coin Dawid-Skene (load included
  in the peak memory).

Usage::

    python benchmarks/scale.py                      # full size, writes docs/benchmarks/scale.md
    python benchmarks/scale.py --scale 0.1 --no-doc  # a tenth of the size, quick look

Run by hand (not by CI): machines are noisy, so this prints a table, it does not assert.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FULL = dict(n_votes=9_000_000, n_users=823_000, n_obs=6_700_000, n_classes=11_425)
GOALS = {"load": 10, "MV": 15, "WAWA": 15, "TwoThird": 15, "PlantNet": 60}
# OneCoinDS: the EM model whose memory does not grow with K (no goal set by the issue)
STEPS = ["load", "MV", "WAWA", "TwoThird", "PlantNet", "OneCoinDS"]


def generate(path: Path, n_votes: int, n_users: int, n_obs: int, n_classes: int, seed: int = 0) -> dict:
    """Write a Pl@ntNet-shaped crowd to Parquet (columns task, worker, label, author)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    # user activity: p_u proportional to (rank + 1000)^-2: at full size ~80% of users vote
    # once, the median is 1 vote, the most active user has ~8k votes
    act = 1.0 / (np.arange(n_users) + 1000.0) ** 2
    act /= act.sum()
    # every user authors at least one observation; the rest of the authors follow activity
    author = np.empty(n_obs, dtype=np.int64)
    first = min(n_users, n_obs)
    author[:first] = rng.permutation(n_users)[:first]
    author[first:] = rng.choice(n_users, size=n_obs - first, p=act)
    # species popularity: power law
    pop = 1.0 / (np.arange(n_classes) + 1.0) ** 0.9
    pop /= pop.sum()
    truth = rng.choice(n_classes, size=n_obs, p=pop)
    # user skill: most users are decent, some poor
    skill = rng.beta(4, 1.5, size=n_users)
    # extra (non-author) votes on other users' observations
    n_extra = n_votes - n_obs
    extra_obs = rng.integers(0, n_obs, size=int(n_extra * 1.02))
    extra_user = rng.choice(n_users, size=extra_obs.size, p=act)
    keep = extra_user != author[extra_obs]
    extra_obs, extra_user = extra_obs[keep], extra_user[keep]
    key = extra_obs * n_users + extra_user
    _, first_idx = np.unique(key, return_index=True)
    first_idx = np.sort(first_idx)[:n_extra]
    extra_obs, extra_user = extra_obs[first_idx], extra_user[first_idx]
    task = np.concatenate([np.arange(n_obs), extra_obs])
    worker = np.concatenate([author, extra_user])
    is_author = np.concatenate([np.ones(n_obs, bool), np.zeros(extra_obs.size, bool)])
    right = rng.random(task.size) < skill[worker]
    # a wrong answer is a neighbouring (look-alike) species more often than a random one
    near = (truth[task] + rng.integers(1, 20, size=task.size)) % n_classes
    far = rng.integers(0, n_classes, size=task.size)
    wrong = np.where(rng.random(task.size) < 0.7, near, far)
    label = np.where(right, truth[task], wrong)
    order = rng.permutation(task.size)
    table = pa.table({
        "task": task[order], "worker": worker[order],
        "label": label[order].astype(np.int32), "author": is_author[order],
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    np.save(path.with_suffix(".truth.npy"), truth)
    acts = np.bincount(worker, minlength=n_users)
    return {"votes": int(task.size), "users": int((acts > 0).sum()), "observations": n_obs,
            "classes": n_classes, "median votes per user": float(np.median(acts[acts > 0])),
            "max votes per user": int(acts.max()), "users with 1 vote": float(np.mean(acts[acts > 0] == 1))}


def run_step(step: str, path: Path) -> dict:
    """Run one step in this process; returns seconds and peak RSS."""
    import crowdwise.io as cio
    from crowdwise.aggregate import make_strategy

    t0 = time.perf_counter()
    votes = cio.load_votes(path)
    t_load = time.perf_counter() - t0
    out = {"step": step, "load_s": t_load}
    if step != "load":
        model = make_strategy("MV[tie=smallest]" if step == "MV" else step, random_state=0)
        t0 = time.perf_counter()
        model.fit(votes)
        out["fit_s"] = time.perf_counter() - t0
        truth = np.load(path.with_suffix(".truth.npy"))
        # tasks are observation ids 0..n_obs-1, natural order: index == id
        lab = model.labels_
        valid = getattr(model, "valid_", None)
        ok = np.ones(lab.size, bool) if valid is None else valid
        out["accuracy"] = float(np.mean(lab[ok] == truth[votes.task_ids[ok]]))
        out["share_valid"] = float(ok.mean())
        from scipy import sparse

        out["probas"] = "CSR" if sparse.issparse(model.probas_) else "dense"
    out["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the Pl@ntNet size (default 1)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/crowdwise-bench"), help="where the Parquet file goes")
    ap.add_argument("--steps", default=",".join(STEPS))
    ap.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks/scale.md")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step:
        print(json.dumps(run_step(args.step, args.file)))
        return
    size = {k: max(1, int(v * args.scale)) for k, v in FULL.items()}
    path = args.cache / f"plantnet_shaped_{args.scale:g}.parquet"
    shape_file = path.with_suffix(".shape.json")
    if not path.exists() or not shape_file.exists():
        print(f"generating {path} ...", flush=True)
        t0 = time.perf_counter()
        shape = generate(path, **size)
        shape["generation_s"] = time.perf_counter() - t0
        shape_file.write_text(json.dumps(shape))
    shape = json.loads(shape_file.read_text())
    print("crowd:", shape, flush=True)
    rows = []
    for step in args.steps.split(","):
        res = subprocess.run([sys.executable, __file__, "--step", step, "--file", str(path)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            print(res.stderr[-3000:])
            rows.append({"step": step, "error": res.stderr.strip().splitlines()[-1][:200]})
            continue
        r = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append(r)
        print(r, flush=True)
    lines = [
        "| step | time (s) | goal (s) | peak memory (GB, incl. load) | accuracy | valid share | probas_ |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['step']} | failed: {r['error']} | | | | | |")
            continue
        t = r["load_s"] if r["step"] == "load" else r["fit_s"]
        goal = GOALS.get(r["step"], "-")
        acc = f"{r['accuracy']:.4f}" if "accuracy" in r else ""
        val = f"{r['share_valid']:.3f}" if "share_valid" in r else ""
        lines.append(f"| {r['step']} | {t:.2f} | {'< ' if goal != '-' else ''}{goal} | {r['peak_gb']:.2f} | {acc} | {val} | {r.get('probas', '')} |")
    table = "\n".join(lines)
    print(table)
    if not args.no_doc:
        doc = ROOT / "docs" / "benchmarks" / "scale.md"
        doc.parent.mkdir(parents=True, exist_ok=True)
        doc.write_text(
            "# Scale: a Pl@ntNet-shaped crowd\n\n"
            f"Produced by `python benchmarks/scale.py{'' if args.scale == 1 else f' --scale {args.scale:g}'}` on "
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{time.strftime('%Y-%m-%d')}.\n\n"
            "Synthetic crowd with the shape of Pl@ntNet-CrowdSWE (generated by the script, cached as Parquet):\n\n"
            + "\n".join(f"- {k}: {v:,}" if isinstance(v, int) else f"- {k}: {v:.3g}" for k, v in shape.items())
            + "\n\nEach step runs in a fresh process; the time is the step alone (load excluded for the "
            "strategies), the peak memory is the process's maximum resident set, loading included.\n\n"
            + table + "\n")
        print(f"wrote {doc}")


if __name__ == "__main__":
    main()
