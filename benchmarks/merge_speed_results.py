"""Join side runs of ``benchmarks/speed.py`` into the results cache that ``--resume`` and
``--render`` read.

Usage::

    python benchmarks/merge_speed_results.py [--peers-only A.json] [--peers-only A2.json] B.json ...

Each file is a ``results-<time>.json`` written by a ``--no-doc`` run. The runs of a
``--peers-only`` file are taken only for the peer libraries (e.g. a long crowd-kit run whose
crowdwise side was run again later); the other files give all their runs, later files
winning. The commands of every file are kept, in order, so the doc lists them. Writes
``<cache>/results.json`` (default cache /tmp/crowdwise-peers), then run
``python benchmarks/speed.py --resume`` to run what is missing and write the doc. An
existing ``results.json`` is replaced (the script says so).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path, help="results files whose runs are all taken")
    ap.add_argument("--peers-only", action="append", type=Path, default=[], metavar="FILE",
                    help="a results file whose peer runs only are taken (repeat the option for several)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/crowdwise-peers"))
    args = ap.parse_args()
    runs: dict = {}
    commands: list = []
    for path, peers_only in [(p, True) for p in args.peers_only] + [(p, False) for p in args.files]:
        data = json.loads(path.read_text())
        commands += data.get("commands", [])
        for key, run in data.get("runs", {}).items():
            if not peers_only or not key.startswith("crowdwise|"):
                runs[key] = run
    out = args.cache / "results.json"
    if out.exists():
        print(f"replacing {out}")
    out.write_text(json.dumps({"commands": commands, "runs": runs}, indent=1))
    print(f"wrote {out}: {len(runs)} runs from {len(commands)} commands")


if __name__ == "__main__":
    main()
