"""Build hook: compiles the per-link hot paths to C when Cython and a C compiler are present.

pyproject.toml holds the package's metadata; this file only adds extension modules. The
modules below are ordinary Python (type-checked by mypy, tested as they are) and Cython
compiles them as they are written ("pure Python mode"): the same code, with the interpreter's
per-bytecode dispatch taken out of the verdict engine, the URL model, the MIME rewriter and
sealing. Each extension is optional: without a compiler the build warns and the package runs
the same modules as Python. ``LINKGUARD_PURE_PYTHON=1`` at build time skips compiling.
``linkguard.native`` says at run time which modules are compiled.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent

# The modules a click or a message runs through for every URL; the list lives beside the code
# that reports it at run time (linkguard/native.py, standard library only).
COMPILED = runpy.run_path(str(HERE / "linkguard" / "native.py"))["COMPILED_MODULES"]

# Directives that keep Python's semantics: annotations are not turned into C types (a str
# annotation would refuse None or a subclass at run time), functions stay introspectable.
DIRECTIVES = {"language_level": 3, "annotation_typing": False, "binding": True}


def extensions() -> list[Extension]:
    if os.environ.get("LINKGUARD_PURE_PYTHON") == "1":
        return []
    try:
        from Cython.Build import cythonize  # noqa: PLC0415 - a build-time dependency only
    except ImportError:
        return []
    modules = [
        Extension(name, [name.replace(".", "/") + ".py"], optional=True) for name in COMPILED
    ]
    # Written for Cython (zlib's C API): sealing a link's blob without a Python step between
    # deflate, AES-GCM and base64. tokens.py seals in Python when it is absent.
    modules += [Extension("linkguard.core._sealcore", ["linkguard/core/_sealcore.pyx"],
                          libraries=["z"], optional=True)]
    # Slotted objects (ParsedUrl) built from their member descriptors in one call.
    modules += [Extension("linkguard.core._slots", ["linkguard/core/_slots.pyx"],
                          optional=True)]
    # The URL model's test for a link already in its WHATWG form, one pass over the string.
    modules += [Extension("linkguard.core._urlcore", ["linkguard/core/_urlcore.pyx"],
                          optional=True)]
    # The brand index's "is any deletion of this name a key?" probe, without the deletions.
    modules += [Extension("linkguard.core._nearcore", ["linkguard/core/_nearcore.pyx"],
                          optional=True)]
    # Quoted-printable line tables and wrapping in one pass over a part's bytes.
    modules += [Extension("linkguard.rewriter._qpcore", ["linkguard/rewriter/_qpcore.pyx"],
                          optional=True)]
    # The HTML tokenizer's states for link attributes, one pass over a part's text.
    modules += [Extension("linkguard.rewriter._htmlcore", ["linkguard/rewriter/_htmlcore.pyx"],
                          optional=True)]
    return cythonize(
        modules,
        compiler_directives=DIRECTIVES,
        build_dir="build/cython",  # generated C stays out of the source tree
        nthreads=os.cpu_count() or 1,
        quiet=True,
    )


setup(ext_modules=extensions())
