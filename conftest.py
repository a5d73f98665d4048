"""Doctests that need PyTorch skip cleanly when torch is not installed.

``pip install -e ".[test]"`` does not install torch (it is the ``deep`` extra), yet the
default run collects the doctests of ``src/crowdwise`` and ``README.md``. Without torch:

* a module whose import needs torch (``crowdwise.learn.aum``, ``crowd_layers``,
  ``models``, ``train``) is reported as one skipped collector instead of a collection
  error;
* a doctest block (consecutive ``>>>`` examples) that imports torch or one of those
  modules is skipped example by example (``+SKIP``), so the other blocks of the same
  docstring or text file (``README.md``) still run;
* a doctest that still fails only because torch is missing is reported as skipped.

With torch installed nothing here changes anything. Test modules use
``pytest.importorskip("torch")`` themselves.
"""

from __future__ import annotations

import doctest
import importlib.util
import inspect
import re

import pytest

HAS_TORCH = importlib.util.find_spec("torch") is not None
INSTALL = "pip install -e '.[deep]'"

# Sources of examples that cannot run without torch.
_NEEDS_TORCH = re.compile(r"\btorch\b|crowdwise\.learn\.(?:aum|crowd_layers|models|train)\b"
                          r"|from \.(?:aum|crowd_layers|models|train) import")


def _missing_torch(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is 'No module named torch'."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        failures = getattr(exc, "failures", None)  # pytest's MultipleDoctestFailure
        if failures:
            return all(_missing_torch(f) for f in failures)
        if isinstance(exc, doctest.UnexpectedException):
            exc = exc.exc_info[1]
            continue
        if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "torch":
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _needs_torch(item) -> bool:
    """Whether a test needs PyTorch: a doctest with an example naming torch or the
    learning modules, or a test whose module or function names torch."""
    test = getattr(item, "dtest", None)
    if test is not None:
        return any(_NEEDS_TORCH.search(ex.source) for ex in test.examples)
    for obj in (getattr(item, "module", None), getattr(item, "function", None)):
        try:
            if obj is not None and re.search(r"\btorch\b", inspect.getsource(obj)):
                return True
        except (OSError, TypeError):
            continue
    return False


def pytest_collection_modifyitems(config, items):
    """Mark the tests that need PyTorch ``torch`` (CI runs them apart, after installing
    the ``deep`` extra: ``python -m pytest -m "torch and not slow"``); without torch, skip
    the doctest blocks that need it."""
    for item in items:
        if _needs_torch(item):
            item.add_marker(pytest.mark.torch)
        if not HAS_TORCH:
            _skip_torch_blocks(item)


def pytest_terminal_summary(terminalreporter):
    """One line on what was skipped for want of PyTorch (test files skipped whole, single
    tests and doctests), and how to run it."""
    if HAS_TORCH:
        return
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "torch" in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(
            f"{len(skipped)} test files, tests or doctests need PyTorch and were skipped: run them with "
            f"{INSTALL} (on a CPU-only machine, first: pip install torch torchvision --index-url "
            "https://download.pytorch.org/whl/cpu), then python -m pytest -m torch")


def _skip_torch_blocks(item) -> None:
    """Without torch, the doctest blocks (consecutive examples) that need it are skipped,
    and a doctest made only of such blocks is skipped whole."""
    test = getattr(item, "dtest", None)
    if test is None:
        return
    for block in _blocks(test.examples):
        if any(_NEEDS_TORCH.search(ex.source) for ex in block):
            for ex in block:
                ex.options[doctest.SKIP] = True
    if test.examples and all(ex.options.get(doctest.SKIP) for ex in test.examples):
        item.add_marker(pytest.mark.skip(reason=f"doctest needs torch ({INSTALL})"))


def _blocks(examples):
    """Consecutive examples (no prose or blank line between them) as lists."""
    block, end = [], None
    for ex in examples:
        if block and ex.lineno != end:
            yield block
            block = []
        block.append(ex)
        end = ex.lineno + ex.source.count("\n") + ex.want.count("\n")
    if block:
        yield block


if not HAS_TORCH:

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(collector):
        rep = yield
        if rep.failed and type(collector).__name__ == "DoctestModule":
            call = getattr(rep, "call", None)
            exc = call.excinfo.value if call is not None and call.excinfo else None
            if _missing_torch(exc) or "No module named 'torch'" in str(rep.longrepr):
                rep = pytest.CollectReport(rep.nodeid, "skipped",
                                           (str(collector.path), 0, f"Skipped: doctests need torch ({INSTALL})"),
                                           result=[])
        return rep

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(item, call):
        rep = yield
        if (rep.failed and getattr(item, "dtest", None) is not None and call.excinfo is not None
                and _missing_torch(call.excinfo.value)):
            rep.outcome = "skipped"
            rep.longrepr = (str(item.path), 0, f"Skipped: doctest needs torch ({INSTALL})")
        return rep
