"""Click-path throughput: ``GET /r/{token}`` on the gateway vs a bare FastAPI redirect.

Both apps run under uvicorn with one worker on loopback, started by this script, and are driven
in turn by ``wrk`` (Debian package) with the same connections, duration and request headers (a
browser's, so clicks count as human and are logged). The gateway runs as ``linkguard serve``
would, with click logging on (queue → click-log store) and outside facts off (no network here).

    .venv/bin/python bench/click.py [--duration 10] [--connections 32] [--rounds 3]

Three workloads:
  same link      one sealed link clicked again and again (the verdict cache answers)
  10k links      10,000 distinct links to 10,000 destinations, cycled (cache ~ warm)
  10k, no cache  the same with LINKGUARD_VERDICT_CACHE_S=0: every click opens the token and
                 runs the whole engine
The target (issue 4) is ≥ 0.6 of the bare app's requests/s. On a machine shared with other
work, requests/s swing with the load; the server's own CPU time per request (read from
/proc, both apps measured alike) is the steadier figure, and "CPU ratio" (bare CPU per request /
ours) is the throughput ratio a machine of our own would see.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This file is named click.py, like the package uvicorn's CLI imports: keep its folder off the
# import path so ``import click`` finds the real one.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
DESTINATION_DOMAIN = "bench-destination.org"
LUA = """
local paths = {}
for line in io.lines(os.getenv("LG_PATHS")) do paths[#paths + 1] = line end
local counter = 0
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0"
wrk.headers["Accept"] = "text/html,application/xhtml+xml,*/*;q=0.8"
wrk.headers["Accept-Language"] = "en-GB,en;q=0.9"
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end
"""


def serve(kind: str, port: int) -> None:
    import uvicorn  # noqa: PLC0415

    if kind == "bare":
        from fastapi import FastAPI  # noqa: PLC0415
        from starlette.responses import RedirectResponse  # noqa: PLC0415

        app = FastAPI()
        headers = {"referrer-policy": "no-referrer", "cache-control": "no-store"}

        @app.get("/r/{token}")
        async def click(token: str) -> RedirectResponse:
            del token
            return RedirectResponse(f"https://www.{DESTINATION_DOMAIN}/", 303, headers=headers)

        application = app
    else:
        from linkguard.bootstrap import build_app  # noqa: PLC0415

        application = build_app()
    uvicorn.run(application, host="127.0.0.1", port=port, workers=1, access_log=False,
                log_level="warning", server_header=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(kind: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port)],
                               env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz" if kind == "ours"
                                        else f"http://127.0.0.1:{port}/docs", timeout=1):
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{kind} app did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads (Linux /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(port: int, paths: Path, duration: int, connections: int, lua: Path, *,
        pid: int | None = None) -> dict[str, float]:
    cpu_before = cpu_seconds(pid) if pid else 0.0
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(lua),
         f"http://127.0.0.1:{port}"],
        env={**os.environ, "LG_PATHS": str(paths)}, capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result = {"rps": rps, "non3xx": float(errors.group(1)) if errors else 0.0,
              "cpu_us": (cpu_seconds(pid) - cpu_before) / requests * 1e6 if pid else 0.0}
    for pct in ("50", "99"):
        found = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)\b", out)
        assert found, out
        value, unit = float(found.group(1)), found.group(2)
        result[f"p{pct}"] = value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", choices=["ours", "bare"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    sys.path.insert(0, str(ROOT))
    from linkguard.core.tokens import KeyRing, LinkClaims, generate_key_spec, seal  # noqa: PLC0415

    work = Path(tempfile.mkdtemp(prefix="linkguard-click-bench-"))
    spec = generate_key_spec("bench")
    keys = KeyRing.parse(spec)
    lists = work / "lists.yaml"
    lists.write_text(f"version: 1\nallow:\n  - domain: {DESTINATION_DOMAIN}\n", encoding="utf-8")
    now = int(time.time())

    def token(n: int) -> str:
        url = f"https://www.{DESTINATION_DOMAIN}/article/{n}?utm_source=mail"
        claims = LinkClaims(url=url, issued_at=now, recipient=f"user{n % 500}@corp.example",
                            message_id=f"<msg{n // 10}@corp.example>", link_index=n % 10,
                            display_text="Read the article")
        return "/r/" + seal(claims, keys)

    same = work / "same.txt"
    same.write_text(token(0) + "\n", encoding="utf-8")
    many = work / "many.txt"
    many.write_text("".join(token(n) + "\n" for n in range(10_000)), encoding="utf-8")
    lua = work / "paths.lua"
    lua.write_text(LUA, encoding="utf-8")
    env = {**os.environ, "LINKGUARD_LINK_KEYS": spec, "LINKGUARD_LIST_FILES": str(lists),
           "LINKGUARD_DATA_DIR": str(work / "var"), "LINKGUARD_FACTS_ENABLED": "false",
           "LINKGUARD_RATE_LIMIT_CLICKS": "100000000/1",
           "PYTHONPATH": str(ROOT)}
    workloads = [("same link", same, {}), ("10k links", many, {}),
                 ("10k, no cache", many, {"LINKGUARD_VERDICT_CACHE_S": "0"})]
    print(f"wrk -t1 -c{args.connections} -d{args.duration}s, uvicorn 1 worker, "
          f"{args.rounds} rounds (median); {os.cpu_count()} CPUs shared by wrk and the server")
    print(f"{'workload':<16}{'app':<8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'ratio':>8}"
          f"{'CPU µs/req':>12}{'CPU ratio':>11}")
    for name, paths, extra in workloads:
        runs: dict[str, list[dict[str, float]]] = {"bare": [], "ours": []}
        for _ in range(args.rounds):
            for kind in ("bare", "ours"):
                process, port = start(kind, {**env, **extra})
                try:
                    # Warm-up long enough to click every link once (≈1,000 clicks/s at worst).
                    warm = max(2, len(paths.read_text().splitlines()) // 1000)
                    wrk(port, paths, warm, args.connections, lua)
                    runs[kind].append(wrk(port, paths, args.duration, args.connections, lua,
                                          pid=process.pid))
                    if kind == "ours":
                        metrics = urllib.request.urlopen(
                            f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
                        logged = re.search(r"linkguard_clicks_total\{kind=\"human\","
                                           r"verdict=\"allow\"\} ([\d.e+]+)", metrics)
                        assert logged, "clicks were not counted as human allows"
                finally:
                    process.terminate()
                    process.wait(30)
        bare_rps = statistics.median(r["rps"] for r in runs["bare"])
        bare_cpu = statistics.median(r["cpu_us"] for r in runs["bare"])
        for kind in ("bare", "ours"):
            rps = statistics.median(r["rps"] for r in runs[kind])
            p50 = statistics.median(r["p50"] for r in runs[kind])
            p99 = statistics.median(r["p99"] for r in runs[kind])
            bad = sum(r["non3xx"] for r in runs[kind])
            cpu = statistics.median(r["cpu_us"] for r in runs[kind])
            ratio = f"{rps / bare_rps:.2f}" if kind == "ours" else ""
            cpu_ratio = f"{bare_cpu / cpu:.2f}" if kind == "ours" else ""
            note = f"  ({bad:.0f} non-3xx!)" if bad else ""
            print(f"{name:<16}{kind:<8}{rps:>10,.0f}{p50:>9.2f}{p99:>9.2f}{ratio:>8}"
                  f"{cpu:>12.0f}{cpu_ratio:>11}{note}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
