"""``pd``: pandas, imported on first use.

pandas costs resident memory and import time (figures in ``docs/dev/performance.md``,
"Reading without pandas"), and the path that reads a vote table (CSV through pyarrow, Parquet, answers.json) and fits an aggregation strategy
does not need it. Modules write ``from .._lazy import pd`` and use ``pd.X`` as usual: the
first attribute access imports pandas, later ones go straight to it. Annotations such
as ``-> pd.DataFrame`` stay strings (``from __future__ import annotations``).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["pd", "is_pandas"]


class _LazyModule(ModuleType):
    """A stand-in module that imports the real one on first attribute access."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_target"] = None

    def _load(self) -> ModuleType:
        target = self.__dict__["_target"]
        if target is None:
            target = importlib.import_module(self.__name__)
            self.__dict__["_target"] = target
        return target

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._load(), attr)

    def __dir__(self) -> list[str]:
        return dir(self._load())

    def __repr__(self) -> str:
        return f"<lazy module {self.__name__!r}>"


pd: Any = _LazyModule("pandas")


def is_pandas(x: Any, kind: str = "Series") -> bool:
    """``isinstance(x, pandas.<kind>)`` without importing pandas: when pandas was never
    imported, nothing can be one."""
    import sys

    mod = sys.modules.get("pandas")
    return mod is not None and isinstance(x, getattr(mod, kind))
