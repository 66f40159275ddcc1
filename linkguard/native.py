"""Which of linkguard's modules run compiled.

The modules a click or a message goes through for every URL are ordinary Python that the build
compiles with Cython when a C compiler is there (setup.py reads :data:`COMPILED_MODULES` from
this file). The compiled module is the same code without the interpreter's dispatch; with the
sealing core (:data:`NATIVE_ONLY`) that is about an eighth of a verdict's instructions and a
quarter of a link-heavy message's, more by the clock (bench/README.md). Without a compiler the
package runs the same modules as Python and gives the same answers, only slower;
``linkguard version`` and the gateway's start-up log say which it is.

This file imports nothing but the standard library: setup.py runs it before linkguard's
dependencies are installed.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from types import ModuleType
from typing import Final

COMPILED_MODULES: Final = (
    "linkguard.core.url",
    "linkguard.core.model",
    "linkguard.core.memo",
    "linkguard.core.reasons",
    "linkguard.core.confusables",
    "linkguard.core.brands",
    "linkguard.core.lists",
    "linkguard.core.policy",
    "linkguard.core.engine",
    "linkguard.core.unwrap",
    "linkguard.core.tokens",
    "linkguard.core.checks.lists",
    "linkguard.core.checks.structure",
    "linkguard.core.checks.lookalike",
    "linkguard.core.checks.content",
    "linkguard.core.checks.mismatch",
    "linkguard.core.checks.domain_age",
    "linkguard.core.checks.reputation",
    "linkguard.rewriter.armor",
    "linkguard.rewriter.calendar",
    "linkguard.rewriter.charset",
    "linkguard.rewriter.html",
    "linkguard.rewriter.links",
    "linkguard.rewriter.message",
    "linkguard.rewriter.mime",
    "linkguard.rewriter.model",
    "linkguard.rewriter.plain",
    "linkguard.rewriter.sealer",
    "linkguard.rewriter.transfer",
)
# Modules written for Cython that exist only compiled; the code using them has a Python path.
NATIVE_ONLY: Final = (
    "linkguard.core._sealcore", "linkguard.core._slots", "linkguard.core._urlcore",
    "linkguard.core._nearcore",
    "linkguard.rewriter._qpcore", "linkguard.rewriter._htmlcore",
)


def optional_module(module: str) -> ModuleType | None:
    """``module`` (one of :data:`NATIVE_ONLY`) where the build made it, else None: the code
    using it then takes its Python path."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def is_compiled(module: str) -> bool:
    """True when ``module`` (imported now if it was not) was loaded from an extension."""
    try:
        loaded = sys.modules.get(module) or importlib.import_module(module)
    except ImportError:
        return False  # a module of NATIVE_ONLY that was not built
    spec = getattr(loaded, "__spec__", None)
    return isinstance(getattr(spec, "loader", None), importlib.machinery.ExtensionFileLoader)


def compiled_modules() -> dict[str, bool]:
    """Each module of :data:`COMPILED_MODULES` and :data:`NATIVE_ONLY`, and whether it runs
    compiled."""
    return {name: is_compiled(name) for name in (*COMPILED_MODULES, *NATIVE_ONLY)}


def summary() -> str:
    """One line for logs: "compiled (30 of 30 hot modules compiled)", "Python (…)" or "partly …"."""
    states = compiled_modules()
    done = sum(states.values())
    kind = "compiled" if done == len(states) else "Python" if done == 0 else "partly compiled"
    return f"{kind} ({done} of {len(states)} hot modules compiled)"
