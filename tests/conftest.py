"""Suite-wide switches.

``LINKGUARD_PURE_PYTHON=1`` runs the tests on the Python source of the modules the build
compiles (linkguard/native.py), even where their compiled extensions sit beside them, and
hides the modules that exist only compiled: the compiled and the plain modules must give the
same answers, and CI runs the core and rewriter tests both ways. The finder is installed
here, before any test imports linkguard.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType


class PythonSourceFinder(importlib.abc.MetaPathFinder):
    """Finds linkguard's modules as Python source where a compiled extension would be found."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        del target
        if not fullname.startswith("linkguard."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None or not isinstance(
                spec.loader, importlib.machinery.ExtensionFileLoader):
            return None
        source = Path(spec.origin).with_name(fullname.rpartition(".")[2] + ".py")
        if not source.is_file():
            # Written for Cython only (the sealing core): its callers take their Python path.
            raise ModuleNotFoundError(f"{fullname} is compiled only (LINKGUARD_PURE_PYTHON=1)",
                                      name=fullname)
        return importlib.util.spec_from_file_location(fullname, source)


if os.environ.get("LINKGUARD_PURE_PYTHON") == "1":
    sys.meta_path.insert(0, PythonSourceFinder())
