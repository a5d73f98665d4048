"""Helpers of the security tests: run the real ``crowdwise`` command in a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np


def cli(*args: str, cwd: Path | None = None, env: dict | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    """``crowdwise ARGS...`` as a user runs it (``main()``: exit 2 and one line on errors)."""
    return subprocess.run([sys.executable, "-c", "from crowdwise.cli.main import main; main()", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env={**os.environ, **(env or {})})


def votes_csv(path: Path, n_tasks: int = 30, seed: int = 0) -> Path:
    """A small vote table: 3 workers per task, 3 classes."""
    rng = np.random.default_rng(seed)
    lines = ["task,worker,label"]
    for t in range(n_tasks):
        truth = t % 3
        for w in range(3):
            lab = truth if rng.random() < 0.8 else int(rng.integers(3))
            lines.append(f"t{t},w{w},{lab}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def peerannot_folder(folder: Path, name: str, n_tasks: int = 30, seed: int = 0) -> Path:
    """A peerannot folder whose metadata.json declares ``name``."""
    rng = np.random.default_rng(seed)
    answers = {str(t): {str(w): int(t % 3 if rng.random() < 0.8 else rng.integers(3)) for w in range(3)}
               for t in range(n_tasks)}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "answers.json").write_text(json.dumps(answers))
    (folder / "metadata.json").write_text(json.dumps({"name": name, "n_classes": 3}))
    return folder


def files_under(root: Path) -> set[str]:
    """Every file and link under ``root``, relative."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def temporaries(root: Path) -> list[Path]:
    """Temporary files left by a writer under ``root``."""
    return [p for p in root.rglob(".*") if p.name.endswith((".tmp", ".json")) and p.name.startswith(".")]
