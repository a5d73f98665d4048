"""Entry point of the ``crowdwise`` command: registers one sub-command per verb module.

Each verb lives in its own module ``crowdwise.cli.<verb>`` exposing ``command`` (a plain
function with typer annotations). Modules import heavy dependencies inside ``command``
so that ``crowdwise --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

app = typer.Typer(
    name="crowdwise",
    help="Learning from crowdsourced classification labels: aggregate votes, score workers "
    "and tasks, simulate crowds. Data sets are peerannot folders (answers.json + "
    "metadata.json) or vote tables (CSV, Parquet).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

def _reflow(doc: str | None) -> str | None:
    """Docstring as help text: lines of a paragraph joined, paragraphs kept apart."""
    if not doc:
        return doc
    import inspect

    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"crowdwise {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Learning from crowdsourced classification labels."""


# (verb, module) in the order `crowdwise --help` lists them
VERBS = [
    ("quickstart", "quickstart"),
    ("simulate", "simulate"),
    ("simulate-collection", "simulate_collection"),
    ("aggregate", "aggregate"),
    ("aggregate-deep", "aggregate_deep"),
    ("agginfo", "agginfo"),
    ("train", "train"),
    ("identify", "identify"),
    ("evaluate", "evaluate"),
    ("calibrate", "calibrate"),
    ("benchmark", "benchmark"),
    ("report", "report"),
    ("plot", "plot"),
    ("datasets", "datasets"),
    ("install", "install"),
]

def _no_metavar_on_flags() -> None:
    """Flags take no value: show none in the help (this typer shows ``<bool>``)."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self, ctx):  # type: ignore[no-untyped-def]
        return None if getattr(self, "is_flag", False) else shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich


_no_metavar_on_flags()

for verb, module in VERBS:
    try:
        mod = importlib.import_module(f"crowdwise.cli.{module}")
    except ModuleNotFoundError as exc:  # a verb module not written yet
        if exc.name != f"crowdwise.cli.{module}":
            raise
        continue
    app.command(verb, help=_reflow(mod.command.__doc__))(mod.command)


def main() -> None:
    """Run the CLI; crowdwise errors print as one clear line, exit code 2."""
    import signal

    from ..errors import CrowdwiseError

    def exit_on_signal(signum: int, frame: object) -> None:
        # unwinds like an error: an output set being written removes its temporaries
        raise SystemExit(128 + signum)

    for sig in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)):
        if sig is not None:
            try:
                signal.signal(sig, exit_on_signal)
            except (ValueError, OSError):  # not the main thread
                pass
    import warnings

    from ..errors import ConvergenceWarning, InputWarning

    default_show = warnings.showwarning

    def show_warning(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        # a warning about the data is one line, as errors are; "strict=True" is --strict here
        if issubclass(category, (InputWarning, ConvergenceWarning)):
            print(f"warning: {str(message).replace('strict=True', '--strict')}", file=sys.stderr)
        else:
            default_show(message, category, filename, lineno, file, line)

    warnings.showwarning = show_warning
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            raise SystemExit(code)
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # the help was printed
            raise SystemExit(2) from None
        # typer's usage errors (unknown option, bad value...) in our one-line form
        ctx = getattr(exc, "ctx", None)
        command = ctx.command_path if ctx is not None else "crowdwise"
        command = "crowdwise" + command[command.find(" "):] if " " in command else "crowdwise"
        print(f"error: {exc.format_message().rstrip('.')}. Fix: see `{command} --help`.", file=sys.stderr)
        raise SystemExit(2) from None
    except typer.Abort:
        print("error: aborted.", file=sys.stderr)
        raise SystemExit(130) from None
    except CrowdwiseError as exc:
        # one plain line on stderr, never wrapped, so that scripts can grep it
        msg = str(exc).replace("without strict=True", "without --strict").replace("with strict=True", "with --strict")
        print(f"error: {msg}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as exc:  # a file-system error no reader or writer turned into a clear message
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"error: {where}{exc.strerror or exc}. Fix: check the path, its permissions and the free space.",
              file=sys.stderr)
        raise SystemExit(2) from None
    except MemoryError as exc:
        print(f"error: not enough memory ({exc}). Fix: check the sizes declared in the data "
              "(metadata n_tasks / n_classes), or use a method whose memory does not grow with K "
              "(see `crowdwise agginfo`).", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":  # pragma: no cover
    main()
