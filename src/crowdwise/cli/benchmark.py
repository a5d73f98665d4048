"""`crowdwise benchmark`: strategies compared on data sets with known truth."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer


def command(
    datasets: Annotated[list[Path], typer.Argument(help="Data-set folders holding votes (answers.json or "
                                                        "votes.csv) and truth (truth.csv or ground_truth.npy), "
                                                        "or registered data-set names (`crowdwise datasets`; "
                                                        "installed on first use).")],
    strategies: Annotated[str, typer.Option("--strategies", "-s", help="Comma-separated strategies "
                                            "(default: every registered one).")] = "",
    crowdkit: Annotated[str, typer.Option("--crowdkit", help="Also run crowd-kit's strategies on the same votes, "
                                          "named ck:<class>: comma-separated class names (DawidSkene,GLAD,...) "
                                          "or 'all'. Needs crowd-kit importable by this Python.")] = "",
    seeds: Annotated[int, typer.Option("--seeds", help="Repeat each run with seeds 0..N-1.")] = 1,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the Markdown table here "
                                                   "(and the raw runs as CSV beside it).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    invalid_as_wrong: Annotated[bool, typer.Option(
        "--invalid-as-wrong", help="Count a task with a truth that a strategy leaves without a valid label "
                                   "(TwoThird, PlantNet) as wrong, as the Pl@ntNet study does: every strategy is "
                                   "then scored on the same tasks; accuracy on valid tasks and the share of "
                                   "classes retrieved are reported beside it.")] = False,
) -> None:
    """Run strategies over data-set folders with known truth, repeating with seeds, and print
    (and optionally write) accuracy mean ± sd, time, peak memory and iterations per data set,
    with the overall mean.

    With --crowdkit, crowd-kit's strategies run on exactly the same votes under the names
    ck:<class> (also accepted in -s).

    A DATASET that is not an existing path but a registered name (`crowdwise datasets`)
    is read from the data-set cache, installed first when needed (`crowdwise install`);
    nothing is written into the cache."""
    from ..aggregate import available
    from ..evaluate.benchmark import (split_specs, check_strategies, crowdkit_specs, load_benchmark_data,
                                      run_benchmark, summary_table, to_markdown)
    from ..io import atomic_write
    from ..io import escape_formulas, output_set
    from ._common import console, input_files, progress

    from ..errors import InputError

    if seeds < 1:
        raise InputError(f"--seeds must be at least 1, got {seeds}", fix="e.g. --seeds 3 (runs with seeds 0, 1, 2)")
    specs = [s.strip() for s in split_specs(strategies) if s.strip()] or [i.name for i in available()]
    if crowdkit.strip():
        specs += [s for s in crowdkit_specs(crowdkit) if s not in specs]
    check_strategies(specs)  # a wrong name, or crowd-kit missing, before any data is read
    datasets = _resolve(datasets, quiet)
    data = []
    with progress("loading data sets", quiet=quiet, total=len(datasets)) as advance:
        for d in datasets:
            data.append(load_benchmark_data(d))
            advance()
    total = len(data) * len(specs) * seeds
    with progress("benchmark", quiet=quiet, total=total) as advance:
        runs = run_benchmark(data, specs, seeds=range(seeds), callback=lambda row: advance(),
                             invalid_as_wrong=invalid_as_wrong)
    summ = summary_table(runs)
    from rich.markup import escape
    from rich.table import Table

    rule = " (a task left invalid counts as wrong)" if invalid_as_wrong else ""
    table = Table(title=f"accuracy{rule} (mean ± sd over seeds), time (s), peak memory (MB)")
    extra = ("valid acc.", "classes") if invalid_as_wrong else ()
    for c in ("data set", "strategy", "accuracy", *extra, "time", "peak MB", "iter"):
        table.add_column(c, justify="left" if c in ("data set", "strategy") else "right")
    for _, r in summ.iterrows():
        if isinstance(r["error"], str):
            table.add_row(r["dataset"], escape(r["strategy"]), "n/a", *("" for _ in extra), "", "", "")
            continue
        partial = f" ({r['share_valid']:.0%} valid)" if r["share_valid"] < 1 - 1e-12 else ""
        cells = ((_fmt(r["accuracy_valid"]), _fmt(r["classes_retrieved"])) if invalid_as_wrong else ())
        table.add_row(r["dataset"], escape(r["strategy"]), f"{r['accuracy']:.4f} ± {r['accuracy_sd']:.3f}{partial}",
                      *cells, f"{r['time_s']:.3f}", f"{r['peak_mb']:.1f}",
                      "" if r["n_iter"] != r["n_iter"] else f"{r['n_iter']:.0f}")
    console.print(table)
    for _, r in summ[summ["error"].notna()].iterrows():
        console.print(escape(f"n/a: {r['strategy']} on {r['dataset']}: {r['error']}"))
    done = summ[summ["error"].isna()]
    ok = done.groupby("strategy", sort=False)["accuracy"]
    means, counts = ok.mean(), ok.size()
    # a strategy with a validity rule is scored on the tasks it keeps: its mean is not comparable
    partial = set() if invalid_as_wrong else set(done.loc[done["share_valid"] < 1 - 1e-12, "strategy"])
    console.print(escape("mean accuracy over data sets: " + ", ".join(
        f"{k} {v:.4f}" + (f" ({counts[k]} of {len(data)} sets)" if counts[k] < len(data) else "")
        + (" (on its valid tasks only)" if k in partial else "")
        for k, v in means.items())))
    if output is not None:
        cmd = "crowdwise benchmark " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if len(sys.argv) > 2 else \
            "crowdwise benchmark"
        text = "# Accuracy of the strategies on the real data sets\n\n" + to_markdown(
            runs, cmd, invalid_as_wrong=invalid_as_wrong)
        with output_set(input_files(*datasets)):
            with atomic_write(output, "w") as f:
                f.write(text)
            safe_runs = runs.assign(**{c: escape_formulas(runs[c].to_numpy()) for c in ("dataset", "strategy")
                                       if c in runs})
            with atomic_write(output.with_suffix(".runs.csv"), "w") as f:
                safe_runs.to_csv(f, index=False, lineterminator="\n")
        console.print(f"wrote {output}")


def _fmt(x: float) -> str:
    return "" if x != x else f"{x:.4f}"


def _resolve(datasets: list[Path], quiet: bool) -> list[Path]:
    """Each argument as a folder: an existing path as it is; else a registered data-set name,
    installed when it is not yet (its folder in the cache is then read, never written)."""
    from .. import datasets as registry
    from ..errors import InputError

    names = {d.name for d in registry.available()}
    out = []
    for d in datasets:
        text = str(d)
        if d.exists() or text not in names:
            if not d.exists():
                import difflib

                hint = difflib.get_close_matches(text.lower(), sorted(names), n=1, cutoff=0.6)
                raise InputError("is neither a folder nor a registered data-set name", source=d,
                                 fix=(f"did you mean {hint[0]!r}? " if hint else "")
                                 + "give a data-set folder, or a name `crowdwise datasets` lists")
            out.append(d)
            continue
        if text not in registry.installed():
            registry.install(text, progress=False if quiet else None)
        out.append(registry.path(text))
    return out
