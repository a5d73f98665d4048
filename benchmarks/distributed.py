"""Distributed benchmark: a Pl@ntNet-shaped crowd aggregated on Dask, out of core.

Generates, part by part (never the whole crowd in memory), a synthetic crowd with the shape
of Pl@ntNet-CrowdSWE times ``--scale`` (1: 9M votes, 823k users, 6.7M observations;
10: 90M votes, ~8M users, ~67M observations; K = 11,425 species at every scale, heavy-tailed
user activity, one author per observation, power-law species popularity, look-alike
mistakes), as a folder of Parquet parts; then times the aggregation:

- ``memory``: the in-memory fit (all parts read into one :class:`crowdwise.Votes`), the
  baseline of the overhead ratio;
- ``dask``: :func:`crowdwise.distributed.aggregate` on a ``LocalCluster`` of ``--workers``
  processes (one thread each, ``--memory-limit`` each; Dask spills to ``--spill-dir``
  above it): the encoding (ids factorised, votes regrouped by task), each strategy's fit,
  and the writing of its Parquet parts, with the peak resident memory of each worker.

Every run is a fresh process; results go to a JSON-lines file, from which ``doc`` writes
``docs/benchmarks/distributed.md``.

Usage::

    python benchmarks/distributed.py generate --scale 1 --data /tmp/cw_dist/s1
    python benchmarks/distributed.py run --data /tmp/cw_dist/s1 --engine memory -s MV,PlantNet,OneCoinDS
    python benchmarks/distributed.py run --data /tmp/cw_dist/s1 --engine dask --workers 2 --memory-limit 3GB -s MV
    python benchmarks/distributed.py doc

Run by hand (not by CI): machines are noisy, so this records figures, it does not assert.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

# this file's name is the name of Dask's package: run as a script, its folder must not
# shadow it on the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

ROOT = Path(__file__).resolve().parents[1]
FULL = dict(n_votes=9_000_000, n_users=823_000, n_obs=6_700_000, n_classes=11_425)
RESULTS = Path("/tmp/cw_dist/results.jsonl")
DOC = ROOT / "docs" / "benchmarks" / "distributed.md"


# ---------------------------------------------------------------------- data
def generate(folder: Path, scale: float, n_parts: int, seed: int = 0) -> dict:
    """Write the crowd as ``n_parts`` Parquet parts (task, worker, label, author), each
    part the votes of a range of observations, in a random order within the part."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n_votes, n_users = int(FULL["n_votes"] * scale), int(FULL["n_users"] * scale)
    n_obs, k = int(FULL["n_obs"] * scale), FULL["n_classes"]
    folder.mkdir(parents=True, exist_ok=True)
    # user activity ~ (rank + 1000 scale)^-2 (as benchmarks/scale.py); drawn by inverse CDF
    act = 1.0 / (np.arange(n_users) + 1000.0 * scale) ** 2
    cdf = np.cumsum(act / act.sum())
    pop = 1.0 / (np.arange(k) + 1.0) ** 0.9
    pcdf = np.cumsum(pop / pop.sum())
    skill = np.random.default_rng(seed).beta(4, 1.5, size=n_users)
    # ids are shuffled so that an id says nothing about activity
    user_id = np.random.default_rng(seed + 1).permutation(n_users).astype(np.int64) * 7 + 3
    # every user authors at least one observation (as benchmarks/scale.py): part p gets the
    # p-th slice of a permutation of the users as authors of some of its observations
    newcomers = np.random.default_rng(seed + 2).permutation(n_users)
    cuts = np.linspace(0, n_users, n_parts + 1).astype(np.int64)
    bounds = np.linspace(0, n_obs, n_parts + 1).astype(np.int64)
    n_extra = n_votes - n_obs
    total = 0
    acts = np.zeros(n_users, np.int64)
    t0 = time.perf_counter()
    for p in range(n_parts):
        rng = np.random.default_rng([seed, p])
        o0, o1 = int(bounds[p]), int(bounds[p + 1])
        n_o = o1 - o0
        author = np.minimum(np.searchsorted(cdf, rng.random(n_o)), n_users - 1)
        first = newcomers[cuts[p]:cuts[p + 1]][:n_o]
        author[rng.choice(n_o, size=first.size, replace=False)] = first
        truth = np.minimum(np.searchsorted(pcdf, rng.random(n_o)), k - 1)
        m = int(round(n_extra * n_o / n_obs * 1.02))
        e_obs = rng.integers(0, n_o, size=m)
        e_user = np.minimum(np.searchsorted(cdf, rng.random(m)), n_users - 1)
        keep = e_user != author[e_obs]
        e_obs, e_user = e_obs[keep], e_user[keep]
        _, first = np.unique(e_obs * n_users + e_user, return_index=True)
        first = np.sort(first)[:int(round(n_extra * n_o / n_obs))]
        e_obs, e_user = e_obs[first], e_user[first]
        task = np.concatenate([np.arange(n_o), e_obs])
        worker = np.concatenate([author, e_user])
        is_author = np.concatenate([np.ones(n_o, bool), np.zeros(e_obs.size, bool)])
        right = rng.random(task.size) < skill[worker]
        near = (truth[task] + rng.integers(1, 20, size=task.size)) % k
        far = rng.integers(0, k, size=task.size)
        label = np.where(right, truth[task], np.where(rng.random(task.size) < 0.7, near, far))
        order = rng.permutation(task.size)
        pq.write_table(pa.table({"task": (task[order] + o0).astype(np.int64), "worker": user_id[worker[order]],
                                 "label": label[order].astype(np.int32), "author": is_author[order]}),
                       folder / f"part-{p:05d}.parquet")
        np.save(folder.parent / f"{folder.name}.truth-{p:05d}.npy", truth)
        acts += np.bincount(worker, minlength=n_users)
        total += task.size
    info = {"scale": scale, "votes": int(total), "users": int((acts > 0).sum()), "observations": n_obs,
            "classes": k, "parts": n_parts, "median votes per user": float(np.median(acts[acts > 0])),
            "max votes per user": int(acts.max()), "generation_s": round(time.perf_counter() - t0, 1)}
    (folder.parent / f"{folder.name}.json").write_text(json.dumps(info, indent=1))
    return info


def data_info(folder: Path) -> dict:
    return json.loads((folder.parent / f"{folder.name}.json").read_text())


# ---------------------------------------------------------------------- runs
def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def record(row: dict, results: Path, folder: Path, tag: str) -> None:
    """Append ``row`` (with the data's size) to the results file, at once: a run that
    fails later keeps the figures measured before."""
    info = data_info(folder)
    row.update(votes=info["votes"], users=info["users"], scale=info["scale"], tag=tag)
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


def run_memory(folder: Path, strategies: list[str], results: Path, tag: str) -> list[dict]:
    import pyarrow.dataset as ds

    from crowdwise.aggregate import make_strategy
    from crowdwise.io import from_dataframe

    t0 = time.perf_counter()
    table = ds.dataset(str(folder), format="parquet").to_table()
    votes = from_dataframe(table)
    del table
    load = time.perf_counter() - t0
    out = []
    for s in strategies:
        t = time.perf_counter()
        make_strategy(s, random_state=0).fit(votes)
        out.append({"engine": "memory", "strategy": s, "fit_s": round(time.perf_counter() - t, 2),
                    "load_s": round(load, 2), "peak_gb": round(_rss_gb(), 2)})
        record(out[-1], results, folder, tag)
    return out


def _worker_peak() -> float:
    import resource as r

    return r.getrusage(r.RUSAGE_SELF).ru_maxrss / 2**20


def _worker_spilled(dask_worker=None) -> float:
    try:
        return float(dask_worker.data.spilled_total.disk) / 2**30
    except Exception:  # noqa: BLE001 - an older or newer SpillBuffer
        return float("nan")


def run_dask(folder: Path, strategies: list[str], workers: int, memory_limit: str, spill_dir: Path,
             out_dir: Path | None, results: Path, tag: str) -> list[dict]:
    from distributed import Client, LocalCluster

    from crowdwise.distributed import aggregate, encode_votes

    spill_dir.mkdir(parents=True, exist_ok=True)
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                           local_directory=str(spill_dir), dashboard_address=":0", silence_logs=40)
    client = Client(cluster)
    print(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr, flush=True)
    out = []
    try:
        t0 = time.perf_counter()
        enc = encode_votes(str(folder), client)
        enc_s = time.perf_counter() - t0
        peaks = client.run(_worker_peak)
        print(json.dumps({"encode_s": round(enc_s, 2), "blocks": len(enc.blocks), "peaks": peaks}), flush=True)
        for s in strategies:
            t = time.perf_counter()
            res = aggregate(enc, s, client=client, random_state=0)
            fit = time.perf_counter() - t
            write = None
            if out_dir is not None:
                t = time.perf_counter()
                res.to_parquet(out_dir / f"{s}-{workers}w")
                write = round(time.perf_counter() - t, 2)
            peaks = client.run(_worker_peak)
            spilled = client.run(_worker_spilled)
            out.append({"engine": "dask", "workers": workers, "memory_limit": memory_limit, "strategy": s,
                        "encode_s": round(enc_s, 2), "fit_s": round(fit, 2), "write_s": write,
                        "n_iter": getattr(res, "n_iter_", None), "blocks": len(enc.blocks),
                        "block_workers": int(sum(len(g) for g in enc.gworkers)),
                        "worker_peak_gb": round(max(peaks.values()), 2),
                        "spilled_gb": round(max(spilled.values()), 2), "client_peak_gb": round(_rss_gb(), 2)})
            record(out[-1], results, folder, tag)
    finally:
        client.close()
        cluster.close()
    return out


# ---------------------------------------------------------------------- page
STRATS = ["MV", "PlantNet", "OneCoinDS"]
#: the cluster of the estimate: 16 machines of 8 worker processes each
EST_MACHINES, EST_PROCS = 16, 8
#: what the client's network moves per second in the estimate (10 Gb/s)
EST_NET_BPS = 1.25e9


def _rows(results: list[dict], **match) -> list[dict]:
    return [r for r in results if all(r.get(k) == v for k, v in match.items())]


def _one(results: list[dict], **match) -> dict | None:
    rows = _rows(results, **match)
    return rows[-1] if rows else None


def _f(x, fmt="{:.1f}") -> str:
    return "-" if x is None else fmt.format(x)


def write_doc(results: list[dict], path: Path = DOC, infos: dict | None = None) -> None:
    infos = infos or {}
    L = ["# Distributed aggregation on Dask", "",
         f"Produced by `python benchmarks/distributed.py` (generate, run, doc) on {platform.machine()}, "
         f"{os.cpu_count()} cores, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}. The machine "
         "is shared: the 9M runs and the second 90M run ran when it was otherwise idle (load average below 1 as "
         "they started), the first 90M run while other jobs may have shared its 2 cores. Times compare within "
         "a table, not across machines. How to run on a real cluster: [the guide](../guide/distributed.md).", "",
         "## The crowds", "",
         "Pl@ntNet-shaped crowds generated part by part by the script (never whole in memory): heavy-tailed "
         "user activity (most users vote once, a few thousands of times), every user the author of at "
         "least one observation, one author vote per observation, power-law species popularity, mistakes "
         "mostly on look-alike species; K = 11,425 species at every size. One Parquet part per ~1M votes.", "",
         "| crowd | votes | users | observations | parts | median votes per user | max votes per user |",
         "|---|---|---|---|---|---|---|"]
    for name, info in infos.items():
        L.append(f"| {name} | {info['votes']:,} | {info['users']:,} | {info['observations']:,} | {info['parts']} | "
                 f"{info['median votes per user']:g} | {info['max votes per user']:,} |")
    L += ["", "## At the released size: the overhead of Dask", "",
          "The in-memory run reads every part into one `Votes` and fits (`load` excluded from `fit`); the Dask "
          "run is a `LocalCluster` of 2 worker processes (1 thread, 3 GB each) that encodes the parts once "
          "(ids factorised, votes regrouped by task: `encode`), then fits each strategy and writes its "
          "Parquet parts. `overhead` is the Dask fit over the in-memory fit; `overhead, end to end` is "
          "(encode + fit) over (load + fit). Peak memory: the in-memory process (load included), the largest "
          "of the Dask worker processes.", "",
          "| strategy | iterations | in-memory load + fit (s) | in-memory peak (GB) | Dask encode (s) | Dask fit (s) "
          "| write parts (s) | worker peak (GB) | overhead | overhead, end to end |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for st in STRATS:
        m = _one(results, tag="9M", engine="memory", strategy=st)
        d = _one(results, tag="9M", engine="dask", strategy=st, workers=2)
        if m is None or d is None:
            continue
        ratio = d["fit_s"] / m["fit_s"]
        e2e = (d["encode_s"] + d["fit_s"]) / (m["load_s"] + m["fit_s"])
        L.append(f"| {st} | {d.get('n_iter') or '-'} | {m['load_s']:.1f} + {m['fit_s']:.1f} | {m['peak_gb']:.2f} | "
                 f"{d['encode_s']:.1f} | {d['fit_s']:.1f} | {_f(d.get('write_s'))} | {d['worker_peak_gb']:.2f} | "
                 f"{ratio:.2f} | {e2e:.2f} |")
    L += ["", "## Scaling with the number of processes (simulated on one machine)", "",
          "The same 9M crowd, one session per process count (the encoding once per session, then the three "
          "strategies), 6 GB in all. This machine has 2 cores: 2 processes use both (the `1 / 2` column is the "
          "speed-up), 4 processes share the same 2 cores and only add scheduling and transfer costs, so the "
          "`1 / 4` column cannot exceed `1 / 2` by more than noise here; on a machine with a core per process "
          "the blocks of an iteration run side by side.", "",
          "| step | 1 process (s) | 2 processes (s) | 4 processes (s) | 1 / 2 | 1 / 4 |", "|---|---|---|---|---|---|"]
    by_w = {w: {r["strategy"]: r for r in _rows(results, engine="dask", workers=w)
                if r.get("tag") in ("9M-scaling", "9M")} for w in (1, 2, 4)}
    for st in ["encode"] + STRATS:
        def get(w):
            r = by_w[w].get(st) if st != "encode" else next(iter(by_w[w].values()), None)
            if r is None:
                return None
            return r["encode_s"] if st == "encode" else r["fit_s"]
        a, b, c = get(1), get(2), get(4)
        L.append(f"| {st} | {_f(a)} | {_f(b)} | {_f(c)} | {_f(a / b if a and b else None, '{:.2f}')} | "
                 f"{_f(a / c if a and c else None, '{:.2f}')} |")
    big = _rows(results, tag="90M")
    L += ["", "## Ten times larger: 90M votes out of core", ""]
    if big:
        mem9 = {st: _one(results, tag="9M", engine="memory", strategy=st) for st in STRATS}
        L += ["A `LocalCluster` of 2 processes with 3 GB each (6 GB in all, Dask spilling to disk above 60% of "
              "it). In memory, the same crowd would take ten times the 9M peaks above "
              "(" + ", ".join(f"{st} ~{10 * mem9[st]['peak_gb']:.0f} GB" for st in STRATS if mem9.get(st)) + "), "
              "far above the 6 GB the cluster is given. The client process (the driver: the distinct ids during the "
              "encoding, then the per-user parameters of 8M users and their per-block reductions) is not part "
              "of the cluster's limit; its peak is in the last column. Each run of the script is a session "
              "(`run`): spilling makes the times depend on the disk, whose throughput varies on this virtual "
              "machine, so the runs are listed one by one.", "",
              "| run | strategy | iterations | encode (s) | fit (s) | write parts (s) | worker peak (GB) "
              "| spilled (GB) | client peak (GB) |",
              "|---|---|---|---|---|---|---|---|---|"]
        sessions: dict[float, int] = {}
        for r in big:
            run = sessions.setdefault(r["encode_s"], len(sessions) + 1)  # one encoding per session
            L.append(f"| {run} | {r['strategy']} | {r.get('n_iter') or '-'} | {r['encode_s']:.0f} | {r['fit_s']:.0f} | "
                     f"{_f(r.get('write_s'), '{:.0f}')} | {r['worker_peak_gb']:.2f} | {_f(r.get('spilled_gb'), '{:.2f}')} | "
                     f"{_f(r.get('client_peak_gb'), '{:.2f}')} |")
    else:
        L += ["Not measured yet (see the issue report)."]
    L += ["", "## An estimate: 1 billion votes on 16 machines", ""]
    one = {st: r for st, r in by_w[1].items()}
    if one:
        L += _estimate(one, infos.get("9M"))
    L += ["", "## Reproduce", "", "```bash",
          "python benchmarks/distributed.py generate --scale 1 --data /tmp/cw_dist/s1      # 9M votes",
          "python benchmarks/distributed.py generate --scale 10 --data /tmp/cw_dist/s10    # 90M votes",
          "python benchmarks/distributed.py run --data /tmp/cw_dist/s1 --engine memory -s MV,PlantNet,OneCoinDS --tag 9M",
          "python benchmarks/distributed.py run --data /tmp/cw_dist/s1 --engine dask --workers 2 --memory-limit 3GB \\",
          "    -s MV,PlantNet,OneCoinDS --tag 9M --write /tmp/cw_dist/out9m",
          "python benchmarks/distributed.py run --data /tmp/cw_dist/s1 --engine dask --workers 1 --memory-limit 6GB \\",
          "    -s MV,PlantNet,OneCoinDS --tag 9M-scaling             # and --workers 4 --memory-limit 1.5GB",
          "python benchmarks/distributed.py run --data /tmp/cw_dist/s10 --engine dask --workers 2 --memory-limit 3GB \\",
          "    -s MV,PlantNet,OneCoinDS --tag 90M --write /tmp/cw_dist/out90m",
          "python benchmarks/distributed.py doc", "```", ""]
    path.write_text("\n".join(L))


def _estimate(one: dict, info: dict | None) -> list[str]:
    """The written estimate, from the 1-process costs per vote and the reduced sizes."""
    votes = one[next(iter(one))]["votes"]
    users = (info or {}).get("users", FULL["n_users"])
    n = 1e9
    procs = EST_MACHINES * EST_PROCS
    scale = n / votes
    w_big = users * scale
    enc = one[next(iter(one))]["encode_s"]
    L = [f"From the 1-process run at 9M votes (one process has one core to itself there, as a cluster's "
         f"worker would): the cost per vote of each step, scaled to 1e9 votes spread over {EST_MACHINES} machines "
         f"x {EST_PROCS} worker processes ({procs} processes), plus what the client moves per iteration. "
         f"Users grow with the votes ({users:,} per 9M votes: {w_big / 1e6:.0f}M users at 1e9); a block of 1M "
         "votes holds about as many distinct users as at 9M. The network of the client is taken at 10 Gb/s.", "",
         "| step | 1 process at 9M (s) | per-vote cost (us) | compute at 1e9 on 128 processes (s) | "
         "reduced per iteration at 1e9 | transfer + client work per iteration (s) | estimate (s) |",
         "|---|---|---|---|---|---|---|"]
    t_enc = enc / votes * n / procs
    # encoding: the distinct ids of every part come to the client (8 bytes each, about votes x 0.9),
    # are sorted there, and each part gets its codes back
    ids_bytes = 8 * 0.9 * n + 8 * w_big
    client_enc = 2 * ids_bytes / EST_NET_BPS + 0.15e-6 * 0.9 * n * 3  # transfers + sorting on the client
    # the shuffle: every vote (3 x 8 bytes) crosses the network once, spread over the machines
    shuffle = 24 * n / (EST_MACHINES * EST_NET_BPS)
    L.append(f"| encode | {enc:.1f} | {enc / votes * 1e6:.2f} | {t_enc:.0f} | the distinct ids of the parts "
             f"(~{ids_bytes / 1e9:.0f} GB, once) and the shuffle of the votes (24 GB, once) | "
             f"{client_enc + shuffle:.0f} | {t_enc + client_enc + shuffle:.0f} |")
    for st in STRATS:
        r = one.get(st)
        if r is None:
            continue
        it = r.get("n_iter") or 1
        per = r["fit_s"] / votes
        comp = per * n / procs
        bw = r.get("block_workers") or users * 1.6
        entries = bw * scale  # per-block worker entries at 1e9 votes (blocks of the same size)
        if st == "MV":
            red, move = "nothing (one pass)", 0.0
        elif st == "PlantNet":
            red = f"{it} x (weights of each block's users + credited (user, species) keys): ~{16 * entries / 1e9:.0f} GB"
            move = it * (16 * entries / EST_NET_BPS + 0.1e-6 * entries * 2)
        else:
            red = f"{it} x (accuracies of each block's users, out and back): ~{16 * entries / 1e9:.0f} GB"
            move = it * (16 * entries / EST_NET_BPS + 0.02e-6 * entries)
        L.append(f"| {st} | {r['fit_s']:.1f} ({it} it.) | {per * 1e6:.2f} | {comp:.0f} | {red} | {move:.0f} | "
                 f"{comp + move:.0f} |")
    L += ["", "So about a minute or two of computation per strategy at 1e9 votes on such a cluster, and "
          "the client's side of the reduce — per-block worker parameters out and back, the union of the "
          "credited (user, species) pairs for PlantNet — becomes the larger part: one number per user "
          "and per block it appears in, through one machine's network. Worth doing next at that size: a "
          "tree reduce on the workers (Dask's `client.submit` of partial sums) instead of the client "
          "adding every block's array, and partitioning the reduce by user range. The encoding is paid "
          "once per data set and can be kept (`encode_votes`) for every strategy fitted after it."]
    return L


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--scale", type=float, default=1.0)
    g.add_argument("--data", type=Path, required=True)
    g.add_argument("--parts", type=int, default=None, help="default: one part per ~1M votes")
    r = sub.add_parser("run")
    r.add_argument("--data", type=Path, required=True)
    r.add_argument("--engine", choices=("memory", "dask"), default="dask")
    r.add_argument("-s", "--strategies", default="MV,PlantNet,OneCoinDS")
    r.add_argument("--workers", type=int, default=2)
    r.add_argument("--memory-limit", default="3GB")
    r.add_argument("--spill-dir", type=Path, default=Path("/tmp/cw_dist/spill"))
    r.add_argument("--write", type=Path, default=None, help="write the Parquet parts of each result there")
    r.add_argument("--results", type=Path, default=RESULTS)
    r.add_argument("--tag", default="")
    d = sub.add_parser("doc")
    d.add_argument("--results", type=Path, default=RESULTS)
    d.add_argument("--data-9m", type=Path, default=Path("/tmp/cw_dist/s1"))
    d.add_argument("--data-90m", type=Path, default=Path("/tmp/cw_dist/s10"))
    args = ap.parse_args()
    if args.cmd == "generate":
        parts = args.parts or max(2, int(round(FULL["n_votes"] * args.scale / 1e6)))
        print(json.dumps(generate(args.data, args.scale, parts)))
    elif args.cmd == "run":
        strategies = args.strategies.split(",")
        if args.engine == "memory":
            run_memory(args.data, strategies, args.results, args.tag)
        else:
            run_dask(args.data, strategies, args.workers, args.memory_limit, args.spill_dir, args.write,
                     args.results, args.tag)
    else:
        infos = {}
        for name, folder in (("9M", args.data_9m), ("90M", args.data_90m)):
            try:
                infos[name] = data_info(folder)
            except OSError:
                pass
        write_doc([json.loads(x) for x in args.results.read_text().splitlines() if x.strip()], infos=infos)


if __name__ == "__main__":
    main()
