"""Replicas on one machine: clicks per second through 1 and 3 gateways, and how long a list
change takes to reach all of them.

Starts real ``linkguard serve`` processes (as ``tests/replicas/`` does) on a fresh PostgreSQL
database (dropped at the end) and a Redis key prefix of their own, facts off, click limit out of
the way. Load comes from wrk (Debian's ``wrk``), one wrk process per replica at the same time,
on an allowed link (a 303, a verdict and a click-log entry each); without wrk, from a threaded
httpx client (much slower: the client is then the limit). Propagation: a block entry added
through the store (with the Redis notification, as ``lists sync`` and the admin API write) and
removed without it (the replicas' version poll alone), timed until every replica answers it.

    .venv/bin/python bench/replicas.py [--seconds 10] [--connections 32] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Run as a script, bench/ comes first on the path, and bench/click.py would hide the click
# package httpx imports: the repository root instead (tests.replicas.cluster lives there).
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import httpx  # noqa: E402

from linkguard.adapters.sql import SqlListStore  # noqa: E402
from linkguard.bootstrap import build_list_store, build_storage  # noqa: E402
from linkguard.core.lists import Action, ListEntry, MatchKind  # noqa: E402
from linkguard.core.tokens import KeyRing, LinkClaims, generate_key_spec, seal  # noqa: E402
from linkguard.settings import Settings  # noqa: E402
from tests.replicas.cluster import (  # noqa: E402
    REDIS_URL,
    Replica,
    fresh_database,
    postgres_unreachable,
    redis_prefix,
    redis_unreachable,
    start_all,
    stop_all,
)

ALLOWED = "https://docs.python.org/3/library/"
POLL_S = 1.0
HEADERS = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0",
           "accept": "text/html", "accept-language": "en", "sec-fetch-mode": "navigate"}


def wrk(urls: list[str], seconds: int, connections: int) -> tuple[float, list[str]]:
    """Requests per second over all ``urls`` at once (one wrk each), and wrk's latency lines."""
    per = max(1, connections // len(urls))
    header_args = [arg for k, v in HEADERS.items() for arg in ("-H", f"{k}: {v}")]
    runs = [subprocess.Popen(["wrk", "-t", "1", "-c", str(per), "-d", f"{seconds}s",
                              "--latency", *header_args, url],
                             stdout=subprocess.PIPE, text=True) for url in urls]
    total, latency = 0.0, []
    for run in runs:
        out, _ = run.communicate(timeout=seconds + 60)
        found = re.search(r"Requests/sec:\s+([\d.]+)", out)
        assert found, out
        total += float(found.group(1))
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        assert non2xx is None, out  # every answer a 303
        latency += [line.strip() for line in out.splitlines()
                    if re.match(r"\s+(50|99)%", line)]
    return total, latency


def threaded(urls: list[str], seconds: int, connections: int) -> tuple[float, list[str]]:
    stop = time.monotonic() + seconds
    counts = [0] * connections

    def worker(n: int) -> None:
        with httpx.Client(headers=HEADERS) as client:
            while time.monotonic() < stop:
                assert client.get(urls[n % len(urls)]).status_code == 303
                counts[n] += 1

    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(worker, range(connections)))
    return sum(counts) / seconds, []


def cpu_seconds(replicas: list[Replica]) -> float:
    """User + system CPU time the replica processes have used so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for replica in replicas:
        assert replica.process is not None
        fields = Path(f"/proc/{replica.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def measured(load: object, replicas: list[Replica], link: str, seconds: int,
             connections: int) -> tuple[float, float, list[str]]:
    """(clicks/s, clicks per CPU-second of the replicas, latency lines)."""
    assert callable(load)
    before = cpu_seconds(replicas)
    rate, latency = load([r.url + link for r in replicas], seconds, connections)
    cpu = cpu_seconds(replicas) - before
    return rate, rate * seconds / cpu if cpu else 0.0, latency


def propagation(replicas: list[Replica], link: str, status: int,
                change: object) -> float:
    """Seconds from the change until the last replica answers ``status``."""
    ip = iter(range(1, 10**6))

    def watch(replica: Replica, since: list[float], go: threading.Event) -> float:
        with httpx.Client(headers=HEADERS) as client:
            go.wait()
            while True:
                n = next(ip)
                answer = client.get(replica.url + link, headers={
                    "x-forwarded-for": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"})
                if answer.status_code == status:
                    return time.monotonic() - since[0]
                time.sleep(0.005)

    since, go = [0.0], threading.Event()
    with ThreadPoolExecutor(len(replicas)) as pool:
        futures = [pool.submit(watch, r, since, go) for r in replicas]
        assert callable(change)
        change()
        since[0] = time.monotonic()
        go.set()
        return max(f.result() for f in futures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5, help="list changes timed, each way")
    args = parser.parse_args()
    problem = postgres_unreachable() or redis_unreachable()
    if problem:
        sys.exit(problem)
    load = wrk if shutil.which("wrk") else threaded
    keys = generate_key_spec("k1")
    link = "/r/" + seal(LinkClaims(url=ALLOWED, issued_at=int(time.time()),
                                   recipient="alice@corp.test", message_id="<bench@corp.test>",
                                   link_index=0), KeyRing.parse(keys))
    print(f"{os.cpu_count()} CPUs; load from {load.__name__}, {args.connections} connections, "
          f"{args.seconds} s per run")
    with tempfile.TemporaryDirectory() as tmp, fresh_database() as database, \
            redis_prefix() as prefix:
        env = {"LINKGUARD_LINK_KEYS": keys, "LINKGUARD_BASE_URL": "http://links.test",
               "LINKGUARD_DATABASE_URL": database, "LINKGUARD_REDIS_URL": REDIS_URL,
               "LINKGUARD_REDIS_PREFIX": prefix, "LINKGUARD_FACTS_ENABLED": "false",
               "LINKGUARD_LIST_POLL_S": str(POLL_S),
               "LINKGUARD_RATE_LIMIT_CLICKS": "100000000/60",
               "LINKGUARD_TRUSTED_PROXIES": "127.0.0.1"}
        replicas = [Replica(name, Path(tmp) / name, env) for name in "ABC"]
        try:
            start_all(replicas)
            load([replicas[0].url + link], 2, args.connections)  # warm up
            one, one_cpu, one_latency = measured(load, replicas[:1], link, args.seconds,
                                                 args.connections)
            three, three_cpu, three_latency = measured(load, replicas, link, args.seconds,
                                                       args.connections)
            print(f"1 replica:  {one:6.0f} clicks/s, {one_cpu:5.0f} clicks per CPU-second   "
                  f"{' '.join(one_latency)}")
            print(f"3 replicas: {three:6.0f} clicks/s, {three_cpu:5.0f} clicks per CPU-second "
                  f"(x{three / one:.2f})  {' '.join(three_latency)}")

            settings = Settings(database_url=database, redis_url=REDIS_URL,  # type: ignore[arg-type]
                                redis_prefix=prefix, database_auto_upgrade=False)
            storage = build_storage(settings)
            notified, polled = build_list_store(settings, storage), SqlListStore(storage.engine)
            pushed: list[float] = []
            pulled: list[float] = []
            for n in range(args.rounds):
                entry = ListEntry(Action.BLOCK, MatchKind.DOMAIN, "python.org",
                                  reason=f"bench {n}")
                added: list[int] = []
                pushed.append(propagation(replicas, link, 403, lambda e=entry, a=added:
                                          a.append(notified.add(e, actor="bench").id)))
                pulled.append(propagation(replicas, link, 303, lambda a=added:
                                          polled.delete(a[0], actor="bench")))
            storage.close()
            print(f"list change to all 3, Redis notification: median "
                  f"{statistics.median(pushed) * 1000:.0f} ms, max {max(pushed) * 1000:.0f} ms")
            print(f"list change to all 3, poll only ({POLL_S:g} s): median "
                  f"{statistics.median(pulled) * 1000:.0f} ms, max {max(pulled) * 1000:.0f} ms")
        finally:
            stop_all(replicas)


if __name__ == "__main__":
    main()
