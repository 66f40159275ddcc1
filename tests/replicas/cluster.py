"""Real gateway processes on loopback: ``linkguard serve`` as a deployment runs it.

Used by ``tests/replicas/`` and ``bench/replicas.py``. Each :class:`Replica` is a subprocess with
its own port, data directory and log file; :class:`RedisProcess` is a private redis-server that
a test may stop and start again without touching the machine's own Redis. Everything here
starts processes and waits for them; nothing imports the gateway in this process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import redis
from psycopg import sql

PG_SERVER = os.environ.get("LINKGUARD_TEST_POSTGRES_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("LINKGUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def linkguard_command(*args: str) -> list[str]:
    """The installed ``linkguard`` script beside this interpreter (as a deployment runs it)."""
    script = BIN / "linkguard"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from linkguard.cli import main; main()", *args]


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any LINKGUARD_ setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKGUARD_")}
    env.update(extra)
    return env


# --- PostgreSQL and Redis -------------------------------------------------------------------


def postgres_unreachable() -> str | None:
    """Why the test PostgreSQL server cannot be used, or None."""
    try:
        with psycopg.connect(PG_SERVER, connect_timeout=3):
            return None
    except psycopg.OperationalError as error:
        return f"PostgreSQL not reachable at {PG_SERVER} ({error})"


def redis_unreachable(url: str = REDIS_URL) -> str | None:
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        return f"Redis not reachable at {url} ({error})"
    finally:
        client.close()
    return None


@contextlib.contextmanager
def fresh_database(prefix: str = "linkguard_replicas") -> Iterator[str]:
    """A new, empty PostgreSQL database (the replicas migrate it); dropped afterwards."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _, _ = PG_SERVER.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=5) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                          .format(sql.Identifier(name)))


@contextlib.contextmanager
def redis_prefix(url: str = REDIS_URL) -> Iterator[str]:
    """A key prefix of this run's own on the shared Redis; its keys are deleted afterwards."""
    prefix = f"linkguard-replicas:{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(url, socket_timeout=5)
        try:
            keys = list(client.scan_iter(match=prefix + "*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


class RedisProcess:
    """A private redis-server on a free port, stopped and started again by the test."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._directory = directory
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 15.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self._process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self._directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while redis_unreachable(self.url) is not None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on {self.port} did not start")
            time.sleep(0.05)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
            self._process = None


# --- gateway processes ----------------------------------------------------------------------


@dataclass
class Replica:
    """One ``linkguard serve`` process."""

    name: str
    directory: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / f"{self.name}.log"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        env = clean_env({**self.env, "LINKGUARD_DATA_DIR": str(self.directory / "var")})
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                linkguard_command("serve", "--host", "127.0.0.1", "--port", str(self.port)),
                cwd=self.directory, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Until /readyz answers 200 (every replica migrates or waits for the migration)."""
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n"
                                       + self.log())
                try:
                    if client.get(self.url + "/readyz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} not ready after {timeout_s} s:\n"
                                       + self.log())
                time.sleep(0.1)

    def terminate(self, timeout_s: float = 30.0) -> int:
        """SIGTERM, as an orchestrator stops a pod; the exit status (killed after the timeout)."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(10)
        self.process = None
        return code

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return ""


def start_all(replicas: list[Replica], timeout_s: float = 90.0) -> None:
    """Start every replica at once (they race for the migration lock), wait for each."""
    for replica in replicas:
        replica.start()
    for replica in replicas:
        replica.wait_ready(timeout_s)


def stop_all(replicas: list[Replica]) -> None:
    for replica in replicas:
        if replica.process is not None and replica.process.poll() is None:
            replica.process.send_signal(signal.SIGTERM)
    for replica in replicas:
        replica.terminate()
