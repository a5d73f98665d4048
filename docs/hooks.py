"""MkDocs hooks: the parts of the site made by running crowdwise at build time.

- ``reference/cli.md``: the marker ``<!-- cli-help -->`` becomes the ``--help`` of
  ``crowdwise`` and of every verb of :data:`crowdwise.cli.main.VERBS`, so the page is
  always the command's own text.
- Any page: a fenced ``console`` block preceded by the line ``<!-- run -->`` is run, each
  ``$ command`` line in order with bash, in a temporary folder shared by the blocks of
  that page (so one block can read what an earlier one wrote), and the block's output
  lines are replaced by what the commands printed. A command that fails is an error of
  the build (``mkdocs build --strict``), so the examples cannot rot.
- ``guide/figures.md``, ``calibration.md``, ``plantnet.md`` and ``taxonomy.md`` (:data:`FIGURES_PAGES`): a fenced
  ``python`` block preceded by ``<!-- figure: NAME.png -->`` is executed (it must leave a
  matplotlib ``fig``), and the figure is saved as ``guide/img/NAME.png`` in the site (the
  page shows it with ``![...](img/NAME.png)``).

The Python examples of the guide pages are not run here: they are doctests, run by
``python -m pytest`` (``docs/guide`` is in pyproject's ``testpaths``).
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

log = logging.getLogger("mkdocs.hooks.crowdwise")

COLUMNS = "96"
CLI_MARKER = "<!-- cli-help -->"
RUN_BLOCK = re.compile(r"^<!-- run -->\n```console\n(?P<body>.*?)^```$", re.M | re.S)
FIGURE_BLOCK = re.compile(r"^<!-- figure: (?P<name>[\w.-]+\.png) -->\n```python\n(?P<code>.*?)^```$", re.M | re.S)
FIGURES_PAGES = ("guide/figures.md", "guide/calibration.md", "guide/plantnet.md", "guide/taxonomy.md")
_tmpdirs: list[str] = []


def _env() -> dict[str, str]:
    """The environment of the commands: this interpreter's ``crowdwise`` first on the
    PATH, a fixed terminal width, no colours."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(COLUMNS=COLUMNS, LINES="50", NO_COLOR="1", TERM="dumb", PYTHONHASHSEED="0")
    env.pop("FORCE_COLOR", None)
    return env


def _help(args: list[str]) -> str:
    run = "import sys; sys.argv[0] = 'crowdwise'; from crowdwise.cli.main import main; main()"
    proc = subprocess.run([sys.executable, "-c", run, *args, "--help"],
                          capture_output=True, text=True, env=_env(), timeout=120)
    if proc.returncode != 0:
        log.error("crowdwise %s --help failed (exit %s): %s", " ".join(args), proc.returncode, proc.stderr)
    return "\n".join(line.rstrip() for line in proc.stdout.strip().splitlines())


def _cli_reference() -> str:
    from crowdwise.cli.main import VERBS

    parts = ["## `crowdwise`", "", "```text", _help([]), "```", ""]
    for verb, _module in VERBS:
        parts += [f"## `crowdwise {verb}`", "", "```text", _help([verb]), "```", ""]
    return "\n".join(parts)


def _run_block(body: str, cwd: str, page: str) -> str:
    """Run the ``$`` lines of a console block; the block with their real output."""
    out: list[str] = []
    commands: list[str] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            commands.append(line[2:])
        elif line.startswith("  ") and commands and commands[-1].endswith("\\"):
            commands[-1] += "\n" + line  # a continued command
    for command in commands:
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=cwd, capture_output=True,
                              text=True, env=_env(), timeout=600)
        text = (proc.stdout + proc.stderr).rstrip()
        if proc.returncode != 0:
            log.error("%s: the example command failed (exit %s): %s\n%s", page, proc.returncode, command, text)
        out.append("$ " + command)
        if text:
            out += [line.rstrip() for line in text.splitlines()]
    return "\n".join(out) + "\n"


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001 - MkDocs' signature
    src = page.file.src_uri
    if src == "reference/cli.md" and CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, _cli_reference())
    if RUN_BLOCK.search(markdown):
        cwd = tempfile.mkdtemp(prefix="crowdwise-docs-")
        _tmpdirs.append(cwd)
        markdown = RUN_BLOCK.sub(lambda m: "```console\n" + _run_block(m["body"], cwd, src) + "```", markdown)
    return markdown


def on_files(files, config):  # noqa: ANN001 - MkDocs' signature
    """Make the figures of the pages of FIGURES_PAGES and add them to the site."""
    from mkdocs.structure.files import File

    blocks = []
    for name in FIGURES_PAGES:
        page = Path(config["docs_dir"]) / name
        if page.is_file():
            blocks += [(name, block) for block in FIGURE_BLOCK.finditer(page.read_text(encoding="utf-8"))]
    if not blocks:
        return files
    cwd = tempfile.mkdtemp(prefix="crowdwise-figures-")
    _tmpdirs.append(cwd)
    here = os.getcwd()
    try:
        os.chdir(cwd)
        for page_name, block in blocks:
            namespace: dict = {"__name__": "__docs__"}
            try:
                exec(compile(block["code"], f"{page_name}:{block['name']}", "exec"), namespace)
                buffer = io.BytesIO()
                namespace["fig"].savefig(buffer, format="png", dpi=96, bbox_inches="tight")
            except Exception as exc:  # reported as a build error, with the figure's name
                hint = (" (the WAUM figure learns a small network: install the deep extra, "
                        "pip install -e \".[docs,deep]\")" if isinstance(exc, ModuleNotFoundError) else "")
                log.error("%s: the code of figure %s failed: %r%s", page_name, block["name"], exc, hint)
                continue
            files.append(File.generated(config, f"guide/img/{block['name']}", content=buffer.getvalue()))
    finally:
        os.chdir(here)
    return files


def on_post_build(config) -> None:  # noqa: ANN001 - MkDocs' signature
    while _tmpdirs:
        shutil.rmtree(_tmpdirs.pop(), ignore_errors=True)
