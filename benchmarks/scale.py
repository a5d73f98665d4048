"""Scale benchmark: a Pl@ntNet-shaped crowd, loaded and aggregated on one machine.

Generates (once, cached) a synthetic crowd with the shape of Pl@ntNet-CrowdSWE —
9M votes, 823k users, 6.7M observations, K = 11,425 species, heavy-tailed user activity
(most users vote once or twice, a few thousands of times), one author per observation
who votes on it, species popularity following a power law — writes it to Parquet, then
times, each in a fresh process so that peak memory is the step's own:

- loading the Parquet file into ``crowdwise.Votes``;
- MV, WAWA, TwoThird, the Pl@ntNet aggregation, its penalised user weights
  (``PlantNet[penalty=difference|ratio|accuracy]``, Lefort's thesis §4.3.1) and one-coin
  Dawid-Skene (load included in the peak memory);
- the confident-AI variant on the same crowd plus one AI vote per observation (a
  simulated AI, over-confident by a temperature of 2, ``crowdwise.calibration.simulate_ai``):
  ``PlantNet-AIconfident`` on the raw scores, and ``TS+PlantNet-AIconfident``: a
  ``TemperatureScaling`` fitted on the AI votes of an expert-sized subset of observations
  with known truth (26,811, the size of Pl@ntNet-CrowdSWE's expert set), the transform of
  every AI score, then ``PlantNet-AIconfident`` on the calibrated scores, timed together.

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
PENALISED = [f"PlantNet[penalty={p}]" for p in ("difference", "ratio", "accuracy")]
AI_STEPS = ["PlantNet-AIconfident", "TS+PlantNet-AIconfident"]
GOALS = {"load": 10, "MV": 15, "WAWA": 15, "TwoThird": 15, "PlantNet": 60,
         **{s: 60 for s in PENALISED + AI_STEPS}}
#: peak memory goals (GB) of issue 19: every Pl@ntNet variant under 8 GB
MEM_GOALS = {s: 8 for s in ["PlantNet", *PENALISED, *AI_STEPS]}
# OneCoinDS: the EM model whose memory does not grow with K (no goal set by the issue)
STEPS = ["load", "MV", "WAWA", "TwoThird", "PlantNet", *PENALISED, "OneCoinDS", *AI_STEPS]
#: the AI of the AI steps: over-confident by this temperature; size of the calibration set
AI_TEMPERATURE = 2.0
N_EXPERT = 26_811


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


def ai_path(path: Path) -> Path:
    return path.with_name(path.stem + "_ai.parquet")


def generate_ai(path: Path, seed: int = 1) -> dict:
    """Write the crowd of ``path`` plus one AI vote per observation (worker id ``n_users``,
    its top-1 probability in ``ai_score``, NaN on human votes) to :func:`ai_path`."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from crowdwise.calibration import simulate_ai

    table = pq.read_table(path)
    truth = np.load(path.with_suffix(".truth.npy"))
    n_obs, n_classes = truth.size, int(json.loads(path.with_suffix(".shape.json").read_text())["classes"])
    ai_worker = int(pc.max(table["worker"]).as_py()) + 1
    label, score = simulate_ai(truth, n_classes, temperature=AI_TEMPERATURE, random_state=seed)
    human = table.append_column("ai_score", pa.array(np.full(table.num_rows, np.nan)))
    ai = pa.table({"task": np.arange(n_obs), "worker": np.full(n_obs, ai_worker),
                   "label": label.astype(np.int32), "author": np.zeros(n_obs, bool), "ai_score": score})
    pq.write_table(pa.concat_tables([human, ai.cast(human.schema)]), ai_path(path))
    expert = np.sort(np.random.default_rng(seed).choice(n_obs, size=min(N_EXPERT, n_obs), replace=False))
    np.save(ai_path(path).with_suffix(".expert.npy"), expert)
    info = {"ai_worker": ai_worker, "ai votes": n_obs, "ai right": float(np.mean(label == truth)),
            "ai mean score": float(score.mean())}
    ai_path(path).with_suffix(".json").write_text(json.dumps(info))
    return info


def run_step(step: str, path: Path) -> dict:
    """Run one step in this process; returns seconds and peak RSS."""
    import crowdwise.io as cio
    from crowdwise.aggregate import make_strategy

    is_ai = step in AI_STEPS
    src = ai_path(path) if is_ai else path
    t0, c0 = time.perf_counter(), time.process_time()
    votes = cio.load_votes(src)
    t_load = time.perf_counter() - t0
    out = {"step": step, "load_s": t_load, "load_cpu_s": time.process_time() - c0}
    if is_ai:
        ai_worker = json.loads(src.with_suffix(".json").read_text())["ai_worker"]
        model = make_strategy("PlantNet-AIconfident", ai_worker=ai_worker)
        t0, c0 = time.perf_counter(), time.process_time()
        if step.startswith("TS+"):
            out.update(calibrate(votes, path, ai_worker))
            votes = out.pop("votes")
        model.fit(votes)
        out["fit_s"], out["cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
        out["note"] = (f"{model.n_ai_votes_:,} AI votes, {int(np.sum(votes.extra['ai_score'] > 0.7)):,} "
                       "with a score above theta_score = 0.7")
        if step.startswith("TS+"):
            out["note"] += (f"; T = {out['temperature']:.3f} fitted on {out['n_expert']:,} expert-like labels "
                            f"in {out['ts_fit_s']:.2f} s, transform {out['ts_transform_s']:.2f} s")
    elif step != "load":
        model = make_strategy("MV[tie=smallest]" if step == "MV" else step, random_state=0)
        t0, c0 = time.perf_counter(), time.process_time()
        model.fit(votes)
        out["fit_s"], out["cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
    if step.startswith("PlantNet") or is_ai:
        stop = ("" if model.converged_ else " (not converged: a state came back)" if model.n_iter_ < model.max_iter
                else " (max_iter reached)")
        rounds = f"{model.n_iter_} rounds{stop}"
        out["note"] = rounds + (f"; {out['note']}" if "note" in out else "")
    if step != "load":
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


def calibrate(votes, path: Path, ai_worker: int) -> dict:
    """TemperatureScaling fitted on the AI votes of the expert subset, applied to every AI
    vote: the votes with the calibrated ``ai_score`` column, the temperature and times."""
    from crowdwise.calibration import TemperatureScaling

    truth = np.load(path.with_suffix(".truth.npy"))
    expert = np.load(ai_path(path).with_suffix(".expert.npy"))
    known = np.full(truth.size, -1, dtype=np.int64)
    known[expert] = truth[expert]
    rows = np.flatnonzero(votes.worker == np.flatnonzero(votes.worker_ids == ai_worker)[0])
    obs = votes.task_ids[votes.task[rows]].astype(np.int64)  # observation ids: index into truth
    scores = np.asarray(votes.extra["ai_score"])[rows]
    t0 = time.perf_counter()
    ts = TemperatureScaling().fit(scores, known[obs], predicted=votes.label[rows], n_classes=votes.n_classes)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    column = np.array(votes.extra["ai_score"], dtype=np.float64)
    column[rows] = ts.transform(scores)
    calibrated = votes.with_extra(ai_score=column)
    return {"votes": calibrated, "temperature": float(ts.temperature_), "n_expert": int(expert.size),
            "ts_fit_s": t_fit, "ts_transform_s": time.perf_counter() - t0}


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
    ai_info = None
    if any(s in AI_STEPS for s in args.steps.split(",")):
        info_file = ai_path(path).with_suffix(".json")
        if not ai_path(path).exists() or not info_file.exists():
            print(f"generating {ai_path(path)} ...", flush=True)
            generate_ai(path)
        ai_info = json.loads(info_file.read_text())
        print("AI:", ai_info, flush=True)
    rows = []
    load_start = os.getloadavg()[0]
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
        "| step | time (s) | CPU time (s) | goal (s) | peak memory (GB, incl. load) | goal (GB) | accuracy "
        "| valid share | probas_ |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['step']} | failed: {r['error']} | | | | | | | |")
            continue
        t = r["load_s"] if r["step"] == "load" else r["fit_s"]
        cpu = r["load_cpu_s"] if r["step"] == "load" else r["cpu_s"]
        goal = GOALS.get(r["step"], "-")
        mem_goal = MEM_GOALS.get(r["step"], "-")
        acc = f"{r['accuracy']:.4f}" if "accuracy" in r else ""
        val = f"{r['share_valid']:.3f}" if "share_valid" in r else ""
        lines.append(f"| {r['step']} | {t:.2f} | {cpu:.2f} | {'< ' if goal != '-' else ''}{goal} | {r['peak_gb']:.2f} | "
                     f"{'< ' if mem_goal != '-' else ''}{mem_goal} | {acc} | {val} | {r.get('probas', '')} |")
    table = "\n".join(lines)
    notes = [f"- {r['step']}: {r['note']}." for r in rows if r.get("note")]
    print(table)
    print("\n".join(notes))
    if not args.no_doc:
        doc = ROOT / "docs" / "benchmarks" / "scale.md"
        doc.parent.mkdir(parents=True, exist_ok=True)
        doc.write_text(
            "# Scale: a Pl@ntNet-shaped crowd\n\n"
            f"Produced by `python benchmarks/scale.py{'' if args.scale == 1 else f' --scale {args.scale:g}'}` on "
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{time.strftime('%Y-%m-%d')}; load average (1 min, all users of the machine) "
            f"{load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end.\n\n"
            "Synthetic crowd with the shape of Pl@ntNet-CrowdSWE (generated by the script, cached as Parquet):\n\n"
            + "\n".join(f"- {k}: {v:,}" if isinstance(v, int) else f"- {k}: {v:.3g}" for k, v in shape.items())
            + "\n\nEach step runs in a fresh process; the time is the step alone (load excluded for the "
            "strategies), its CPU time (user + system, `time.process_time`) beside it: on a shared machine the "
            "wall time also holds the waits for a core. The peak memory is the process's maximum resident set, "
            "loading included. "
            "Accuracy is against the simulated truth, on the observations a strategy validates.\n\n"
            + ("" if ai_info is None else
               f"The AI steps read the same crowd plus {ai_info['ai votes']:,} AI votes, one per observation "
               f"({ai_info['ai votes'] + shape['votes']:,} votes in all), from a simulated AI right on "
               f"{ai_info['ai right']:.1%} of them and over-confident by a temperature of {AI_TEMPERATURE:g} "
               "(`crowdwise.calibration.simulate_ai`, mean score "
               f"{ai_info['ai mean score']:.3f}). `TS+PlantNet-AIconfident` times `TemperatureScaling().fit` on "
               f"the AI votes of {N_EXPERT:,} observations with known truth (the size of Pl@ntNet-CrowdSWE's "
               "expert set), `transform` of every AI score and `PlantNet-AIconfident` on the calibrated "
               "scores, together.\n\n")
            + table + "\n" + ("\n" + "\n".join(notes) + "\n" if notes else ""))
        print(f"wrote {doc}")


if __name__ == "__main__":
    main()
