"""Load a script of ``bench/`` in a test: the benches are scripts, not a package, and their tests check that
they still measure what ``docs/benchmarks.md`` reports."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["load_bench"]


def load_bench(root: Path, name: str) -> ModuleType:
    """``<root>/bench/<name>.py`` as module ``name``, registered in ``sys.modules`` (so its dataclasses
    resolve) and loaded once per process."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, root / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
