"""Facts from outside: click latency with a cold and a warm RDAP cache, feed index size and speed.

    python bench/facts.py [--clicks 200] [--delay-ms 50] [--feed-urls 100000]
                          [--redis-url redis://127.0.0.1:6379/0]

A local RDAP server (loopback, RFC 9083 JSON) answers after ``--delay-ms``; the bootstrap file
points every .com name at it. "Click" = ``NetworkFacts.gather`` (budget 800 ms) + the verdict.
Baseline: the verdict alone with offline facts, measured in the same run. Target: the cold p99
stays within the budget; a warm click costs a few µs more than the offline verdict.

Prefetch at rewrite time (needs Redis; skipped when it does not answer): a "mail filter" with its
own RDAP client prefetches one set of domains through ``RewritePrefetch``; then a "gateway" with
another client and another Redis connection clicks them (its first click on each: the answer
comes from Redis) and a set of domains nobody prefetched (cold). Keys go under a prefix of their
own, deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

# This folder's click.py would shadow the click package httpx imports: leave it off the path
# (and so the imports below come after code).
# ruff: noqa: E402
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from linkguard.adapters.facts import NetworkFacts, RewritePrefetch
from linkguard.adapters.rdap import SHARED_KEY_PREFIX, RdapBootstrap, RdapClient
from linkguard.adapters.redis_stores import TieredCache, make_redis
from linkguard.bootstrap import build_judge
from linkguard.core.feeds import FeedIndex, parse_openphish
from linkguard.core.url import ParsedUrl, parse_url
from tests.adapters.local_http import Reply, serving

BUDGET_S = 0.8


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def show(name: str, values: list[float], baseline: float | None = None) -> None:
    median = statistics.median(values)
    ratio = f"  ×{median / baseline:,.1f} baseline" if baseline else ""
    print(f"{name:<34} median {median * 1e6:>10,.1f} µs   p99 {pct(values, 0.99) * 1e6:>10,.1f} µs"
          f"{ratio}")


def parsed(text: str) -> ParsedUrl:
    result = parse_url(text)
    if not isinstance(result, ParsedUrl):
        raise SystemExit(f"bench URL does not parse: {text}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clicks", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--feed-urls", type=int, default=100_000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    judge = build_judge()
    now = datetime.now(UTC)
    urls = [parsed(f"https://bench{i}.com/p/{i}") for i in range(args.clicks)]

    for url in urls:  # warm the checks' per-host memo: the baseline is a warm verdict
        judge.judge(url, now=now)
    offline: list[float] = []
    for url in urls:
        start = time.perf_counter()
        judge.judge(url, now=now)
        offline.append(time.perf_counter() - start)
    baseline = statistics.median(offline)
    show("verdict, offline (baseline)", offline)

    with serving() as server:
        def answer(seen: object) -> Reply:
            del seen
            body = json.dumps({"objectClassName": "domain", "events": [
                {"eventAction": "registration", "eventDate": "2020-01-01T00:00:00Z"}]})
            return Reply(200, body.encode(), delay_s=args.delay_ms / 1000)

        # Each URL has its own registrable domain, so every cold click misses the cache.
        for i in range(args.clicks):
            server.route(f"/rdap/domain/bench{i}.com", answer)
        bootstrap = RdapBootstrap.parse(json.dumps({"services": [[["com"],
                                                                  [f"{server.base}/rdap/"]]]}))
        rdap = RdapClient(bootstrap)
        facts = NetworkFacts(rdap=rdap)

        async def clicks() -> tuple[list[float], list[float], list[float], int]:
            cold: list[float] = []
            warm: list[float] = []
            hits: list[float] = []
            unknown = 0
            for url in urls:
                start = time.perf_counter()
                found = await facts.gather(url, budget_s=BUDGET_S)
                judge.judge(url, facts=found, now=now)
                cold.append(time.perf_counter() - start)
                unknown += found.domain_age.age_days is None
            for url in urls:
                start = time.perf_counter()
                found = await facts.gather(url, budget_s=BUDGET_S)
                judge.judge(url, facts=found, now=now)
                warm.append(time.perf_counter() - start)
            for url in urls:
                start = time.perf_counter()
                rdap.cached(url.registrable_domain, now)
                hits.append(time.perf_counter() - start)
            await facts.aclose()
            return cold, warm, hits, unknown

        cold, warm, hits, unknown = asyncio.run(clicks())
    show("RDAP cache hit (cached())", hits, baseline)
    show("click, warm cache (facts+verdict)", warm, baseline)
    show(f"click, cold ({args.delay_ms:g} ms RDAP server)", cold, baseline)
    print(f"cold p99 {pct(cold, 0.99) * 1000:.1f} ms within the {BUDGET_S * 1000:.0f} ms budget: "
          f"{'yes' if pct(cold, 0.99) <= BUDGET_S else 'NO'}; unknown ages: {unknown}")

    prefetch_vs_cold(args.clicks, args.delay_ms / 1000, args.redis_url)

    feed_text = "\n".join(f"https://host{i % 5000}.phish-bench.example/path/{i}?id={i}"
                          for i in range(args.feed_urls))
    start = time.perf_counter()
    index = FeedIndex.build([parse_openphish(feed_text)])
    load_s = time.perf_counter() - start
    print(f"feed index: {len(index):,} URLs parsed and indexed in {load_s:.2f} s "
          f"({load_s / args.feed_urls * 1e6:.1f} µs per URL)")
    probes = [parsed(f"https://host{i % 5000}.phish-bench.example/path/{i * 7}?id={i}")
              for i in range(10_000)]
    lookups: list[float] = []
    for probe in probes:
        start = time.perf_counter()
        index.lookup(probe)
        lookups.append(time.perf_counter() - start)
    show("feed lookup per URL", lookups, baseline)


def prefetch_vs_cold(clicks: int, delay_s: float, redis_url: str) -> None:
    probe = make_redis(redis_url, timeout_s=1.0)
    try:
        probe.ping()
    except redis.RedisError as error:
        print(f"prefetch at rewrite: skipped (Redis at {redis_url}: {error})")
        return
    prefix = f"linkguard-bench:{uuid.uuid4().hex[:12]}:"
    prefetched = [parsed(f"https://pre{i}.com/p/{i}") for i in range(clicks)]
    cold_urls = [parsed(f"https://cold{i}.com/p/{i}") for i in range(clicks)]
    with serving() as server:
        def answer(seen: object) -> Reply:
            del seen
            body = json.dumps({"objectClassName": "domain", "events": [
                {"eventAction": "registration", "eventDate": "2020-01-01T00:00:00Z"}]})
            return Reply(200, body.encode(), delay_s=delay_s)

        for url in prefetched + cold_urls:
            server.route(f"/rdap/domain/{url.registrable_domain}", answer)
        bootstrap = RdapBootstrap.parse(json.dumps({"services": [[["com"],
                                                                  [f"{server.base}/rdap/"]]]}))

        def side() -> NetworkFacts:  # one process's facts: its own client, cache, connection
            cache = TieredCache(make_redis(redis_url), namespace="rdap", prefix=prefix)
            return NetworkFacts(rdap=RdapClient(bootstrap, shared=cache), prefetch_limit=clicks)

        mail, gateway = side(), side()
        hook = RewritePrefetch(mail)
        start = time.perf_counter()
        hook(url.href for url in prefetched)  # what the filter does after re-injection
        handed = time.perf_counter() - start
        keys = [f"{prefix}cache:rdap:{SHARED_KEY_PREFIX}{u.registrable_domain}" for u in prefetched]
        deadline = time.monotonic() + 60
        while probe.exists(*keys) < len(keys) and time.monotonic() < deadline:
            time.sleep(0.01)
        filled = time.perf_counter() - start
        mail.close()
        asked_before = len(server.seen)

        async def clicks_on(urls: list[ParsedUrl]) -> list[float]:
            took: list[float] = []
            for url in urls:
                begin = time.perf_counter()
                found = await gateway.gather(url, budget_s=BUDGET_S)
                took.append(time.perf_counter() - begin)
                if found.domain_age.age_days is None:
                    raise SystemExit(f"no age for {url.href}: {found.domain_age.detail}")
            return took

        async def both() -> tuple[list[float], list[float]]:
            after_prefetch = await clicks_on(prefetched)
            asked = len(server.seen)
            cold = await clicks_on(cold_urls)
            await gateway.aclose()
            if asked != asked_before:
                raise SystemExit("a prefetched click asked the RDAP server")
            return after_prefetch, cold

        after_prefetch, cold = asyncio.run(both())
    show("gather, prefetched (via Redis)", after_prefetch)
    show(f"gather, cold ({delay_s * 1000:g} ms RDAP server)", cold)
    print(f"prefetch of {clicks} domains: handed over in {handed * 1000:.2f} ms (what a message "
          f"waits), all in Redis after {filled:.2f} s; RDAP requests at click time: "
          f"{len(server.seen) - asked_before - len(cold_urls)} for prefetched domains")
    stale = list(probe.scan_iter(match=prefix + "*", count=1000))
    if stale:
        probe.delete(*stale)
    probe.close()


if __name__ == "__main__":
    main()
