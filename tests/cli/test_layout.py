"""The CLI is thin: a verb module imports shared options and helpers, never another verb."""

from __future__ import annotations

import ast
from pathlib import Path

import crowdwise.cli as cli_pkg

CLI = Path(cli_pkg.__file__).parent
SHARED = {"_common", "_options", "main", "__init__"}


def test_no_verb_imports_another_verb():
    verbs = {p.stem for p in CLI.glob("*.py")} - SHARED
    offenders = []
    for path in CLI.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module in verbs and \
                    node.module != path.stem:
                offenders.append(f"{path.name} imports .{node.module}")
    assert not offenders, offenders
