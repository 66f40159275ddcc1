"""The compiled build: which modules run compiled, and that none of them is stale."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import linkguard
from linkguard import native
from linkguard.cli import app

PACKAGE = Path(linkguard.__file__).resolve().parent
PURE = os.environ.get("LINKGUARD_PURE_PYTHON") == "1"


def _extension_files(module: str) -> list[Path]:
    relative = Path(*module.split(".")[1:])
    folder = PACKAGE / relative.parent
    return sorted(folder.glob(f"{relative.name}.*.so")) + sorted(folder.glob(
        f"{relative.name}.*.pyd"))


def test_every_listed_module_has_its_source() -> None:
    # setup.py compiles exactly these; a name that is not a module would fail the build.
    for module in native.COMPILED_MODULES:
        assert (PACKAGE / Path(*module.split(".")[1:])).with_suffix(".py").is_file(), module
    for module in native.NATIVE_ONLY:
        assert (PACKAGE / Path(*module.split(".")[1:])).with_suffix(".pyx").is_file(), module
    names = [*native.COMPILED_MODULES, *native.NATIVE_ONLY]
    assert len(set(names)) == len(names)


def test_no_compiled_module_is_older_than_its_source() -> None:
    # A stale extension shadows the edited source and runs yesterday's code: `make test`
    # rebuilds changed modules before running the tests, so this only fails after a build
    # was skipped.
    sources = {module: (PACKAGE / Path(*module.split(".")[1:])).with_suffix(".py")
               for module in native.COMPILED_MODULES}
    sources |= {module: (PACKAGE / Path(*module.split(".")[1:])).with_suffix(".pyx")
                for module in native.NATIVE_ONLY}
    stale = [f"{ext.name} is older than {source.name} (run `make native`)"
             for module, source in sources.items() for ext in _extension_files(module)
             if ext.stat().st_mtime < source.stat().st_mtime]
    assert stale == []


@pytest.mark.skipif(PURE, reason="LINKGUARD_PURE_PYTHON=1: the source is tested")
def test_the_build_compiled_every_module_when_required() -> None:
    # CI sets LINKGUARD_REQUIRE_NATIVE=1: a missing compiler or a module Cython cannot compile
    # must fail there instead of quietly shipping the slow path.
    states = native.compiled_modules()
    if os.environ.get("LINKGUARD_REQUIRE_NATIVE") != "1" and not any(states.values()):
        pytest.skip("not compiled here (no C compiler or Cython at build time)")
    assert [name for name, done in states.items() if not done] == []
    assert native.summary().startswith("compiled (")


@pytest.mark.skipif(not PURE, reason="only under LINKGUARD_PURE_PYTHON=1")
def test_pure_python_mode_imports_the_source() -> None:
    states = native.compiled_modules()
    assert not any(states.values())
    assert native.summary().startswith("Python (0 of ")


def test_version_command_says_how_the_hot_paths_run() -> None:
    result = CliRunner().invoke(app, ["version", "--verbose"])
    assert result.exit_code == 0, result.output
    first, *rows = result.output.splitlines()
    assert first == f"linkguard {linkguard.__version__}: {native.summary()}"
    states = native.compiled_modules()
    assert len(rows) == len(states)
    for row, (name, compiled) in zip(rows, states.items(), strict=True):
        assert row.split() == ["compiled" if compiled else "python", name]
