"""Helpers for tests that drive the ``crowdwise`` command line in-process."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from crowdwise.cli.main import app

runner = CliRunner()


def run(*args: str):
    """Invoke ``crowdwise ARGS...``; fail the test with the output when it exits non-zero."""
    res = runner.invoke(app, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


def simulate_folder(folder: Path, *, n_task: int, n_worker: int, n_classes: int, spammers: float,
                    seed: int, feedback: int = 5) -> Path:
    """Write an independent-confusion crowd with ``crowdwise simulate`` and return the folder."""
    run("simulate", "-s", "independent-confusion", "--n-task", str(n_task), "--n-worker", str(n_worker),
        "--n-classes", str(n_classes), "--feedback", str(feedback), "--spammers", str(spammers),
        "--seed", str(seed), "-o", str(folder), "--quiet")
    return folder
