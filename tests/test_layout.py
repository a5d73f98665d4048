"""The public/private line (docs/dev/architecture.md): a ``_``-prefixed module or name is
private to its package; no module imports one from another package.

A package is a folder of ``src/crowdwise`` (``aggregate``, ``io``...) or a top-level
module (``votes``, ``errors``, ``utils``...). The top-level ``crowdwise._lazy`` and
``crowdwise._constants`` are the shared internal layer every package may use, and dunders
(``__version__``) are not private.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import crowdwise

SRC = Path(crowdwise.__file__).parent
#: top-level internals every package may import
SHARED_INTERNALS = {"_lazy", "_constants"}


def _private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def _package_of(rel: Path) -> str:
    """``aggregate`` for ``aggregate/dawid_skene.py``, ``votes`` for ``votes.py``, ``""``
    for ``__init__.py`` (the top-level package itself)."""
    if len(rel.parts) > 1:
        return rel.parts[0]
    return "" if rel.stem == "__init__" else rel.stem


def _target(rel: Path, node: ast.ImportFrom | ast.Import, alias: ast.alias | None = None) -> list[str] | None:
    """The imported module path inside crowdwise (``["aggregate", "_base"]``), or None for
    an import from outside crowdwise."""
    if isinstance(node, ast.Import):
        parts = alias.name.split(".")
        return parts[1:] if parts[0] == "crowdwise" else None
    if node.level == 0:
        parts = (node.module or "").split(".")
        return parts[1:] if parts[0] == "crowdwise" else None
    base = list(rel.parts[:-1])
    base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
    return base + (node.module.split(".") if node.module else [])


def underscore_imports_across_packages(root: Path = SRC) -> list[str]:
    """Every ``import`` / ``from ... import`` in ``root`` that reaches a private module or
    name of another package, as ``path:line: statement``."""
    bad = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        here = _package_of(rel)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [(_target(rel, node, a), []) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                targets = [(_target(rel, node), [a.name for a in node.names])]
            else:
                continue
            for parts, names in targets:
                if parts is None:
                    continue
                parts = [p for p in parts if p != "__init__"]
                there = parts[0] if parts else ""
                if not parts and names:  # ``from .. import x``: x is a module or a name of crowdwise
                    there = ""
                if there == here:
                    continue
                if not parts:  # from crowdwise import a, b: each name is a package/module
                    private = [n for n in names if _private(n) and n not in SHARED_INTERNALS]
                    private_module = False
                else:
                    private_module = any(_private(p) for p in parts) and not (
                        len(parts) == 1 and parts[0] in SHARED_INTERNALS)
                    private = [n for n in names if _private(n)]
                if private_module or private:
                    text = ast.get_source_segment(path.read_text(encoding="utf-8"), node) or ""
                    bad.append(f"{rel}:{node.lineno}: {' '.join(text.split())}")
    return bad


def test_no_module_imports_a_private_name_of_another_package():
    bad = underscore_imports_across_packages()
    assert not bad, (
        "private (_-prefixed) modules or names imported from another package:\n  " + "\n  ".join(bad)
        + "\nFix: import the public name (the package's __init__ or a public module such as "
          "crowdwise.utils), or make the helper public where it belongs.")


def test_the_check_sees_each_kind_of_private_import(tmp_path):
    (tmp_path / "aggregate").mkdir()
    (tmp_path / "io").mkdir()
    (tmp_path / "aggregate" / "_base.py").write_text("from ._em import x\nfrom .._lazy import pd\n")
    (tmp_path / "io" / "labels.py").write_text(
        "from ..aggregate._base import argmax_ties\n"          # private module, other package
        "from ..aggregate import _helper\n"                     # private name, other package
        "import crowdwise.aggregate._em\n"                      # absolute import of a private module
        "from crowdwise.aggregate._base import y\n"
        "from ._encode import build\n"                          # same package: fine
        "from .._constants import DEFAULT\n"                    # shared internal: fine
        "from .. import __version__\n"                          # dunder: fine
        "from ..utils import argmax_ties\n")                    # public module: fine
    (tmp_path / "votes.py").write_text("from .io._encode import build\nfrom ._lazy import pd\n")
    bad = underscore_imports_across_packages(tmp_path)
    assert [b.split(":")[0] + ":" + b.split(":")[1] for b in bad] == [
        "io/labels.py:1", "io/labels.py:2", "io/labels.py:3", "io/labels.py:4", "votes.py:1"], bad


def test_aggregate_still_exports_the_helpers_it_exported():
    import crowdwise.aggregate as agg
    from crowdwise import utils

    assert agg.argmax_ties is utils.argmax_ties and "argmax_ties" in agg.__all__
    from crowdwise.aggregate import as_probas, dense_probas, fit_progress  # noqa: F401


# ---------------------------------------------------------------------- aggregate/__init__.py
AGGREGATE = SRC / "aggregate"


def _strategy_modules() -> list[str]:
    from crowdwise.aggregate import NOT_STRATEGY_MODULES

    return sorted(p.stem for p in AGGREGATE.glob("*.py")
                  if not p.stem.startswith("_") and p.stem not in NOT_STRATEGY_MODULES)


def _listed_in_init() -> dict[str, list[str]]:
    """Module -> names imported from it by ``from .module import ...`` in aggregate/__init__.py."""
    tree = ast.parse((AGGREGATE / "__init__.py").read_text(encoding="utf-8"))
    return {node.module: [a.asname or a.name for a in node.names] for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module}


@pytest.mark.parametrize("module", _strategy_modules())
def test_every_strategy_module_is_imported_by_name_in_aggregate_init(module):
    from crowdwise.aggregate import available

    classes = sorted({i.cls.__name__ for i in available() if i.cls.__module__ == f"crowdwise.aggregate.{module}"})
    listed = _listed_in_init()
    if module not in listed:
        pytest.fail(
            f"crowdwise/aggregate/{module}.py is not imported in crowdwise/aggregate/__init__.py. Fix: add "
            f"`from .{module} import {', '.join(classes) or '...'}` there, at the place where `crowdwise agginfo` "
            f"should list its strategies, and the class names to __all__ (until then the module is imported "
            f"after the listed ones, by the fallback).", pytrace=False)
    missing = [c for c in classes if c not in listed[module]]
    assert not missing, (f"crowdwise/aggregate/__init__.py imports from .{module} but not the registered "
                         f"{', '.join(missing)}. Fix: add them to `from .{module} import ...` and to __all__.")


def test_aggregate_exports_exactly_the_registered_strategies():
    import crowdwise.aggregate as agg

    registered = {i.cls.__name__: i.cls for i in agg.available()}
    for name, cls in registered.items():
        assert getattr(agg, name) is cls and name in agg.__all__, name
    listed = {n for m, names in _listed_in_init().items() if m in _strategy_modules() for n in names}
    not_registered = sorted(listed - set(registered))
    assert not not_registered, f"imported in aggregate/__init__.py but not registered: {not_registered}"


def test_agginfo_lists_the_strategies_in_the_order_of_aggregate_init():
    from crowdwise.aggregate import available

    order = list(_listed_in_init())
    modules = [i.cls.__module__.rsplit(".", 1)[1] for i in available()]
    listed = [m for m in modules if m in order]
    assert listed == sorted(listed, key=order.index)
    assert modules[:len(listed)] == listed  # unlisted modules (the fallback) come last
