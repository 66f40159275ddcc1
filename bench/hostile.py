"""Worst-case verdict time on hostile URLs: 7-8 KB of repeated fragments in every URL part.

    python bench/hostile.py

A click path that can be made to spend a second per URL is a denial of service; every regular
expression and per-label loop must stay linear. Prints the slowest cases beside the median
time of an ordinary URL measured in the same run.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime

from linkguard.bootstrap import build_judge
from linkguard.core.model import LinkContext

UNITS = ["a.", "a-", ".", "-", "%2e", "%40", "@", "a@b.", "x1", "1x", "wp-content/",
         "login.php?", "ab", "0x", "..a", "a.com", "&email=a@b.c", "#", "?", "=", "/", "\\",
         "~", "a.b.c.d.", "paypal", "paypal-", "secure", "é", "а", "ωα"]
PLACES = ["https://example.org/{}", "https://example.org/?q={}", "https://example.org/#{}",
          "https://{}@example.org/", "http://{}.com/", "http://a.{}/"]


def main() -> None:
    judge = build_judge()
    now = datetime.now(UTC)
    ordinary = []
    for _ in range(2000):
        start = time.perf_counter()
        judge.judge("https://www.example-shop.com/account/orders?id=42", now=now)
        ordinary.append(time.perf_counter() - start)
    cases = []
    for unit in UNITS:
        text = unit * max(1, 7000 // len(unit))
        for place in PLACES:
            url = place.format(text)
            start = time.perf_counter()
            judge.judge(url, now=now)
            cases.append((time.perf_counter() - start, unit, place))
        start = time.perf_counter()
        judge.judge("https://example.org/", context=LinkContext(display_text=text[:4000]),
                    now=now)
        cases.append((time.perf_counter() - start, unit, "display text"))
    cases.sort(reverse=True)
    base = statistics.median(ordinary)
    print(f"ordinary URL median: {base * 1e6:.1f} µs; {len(cases)} hostile cases, slowest:")
    for seconds, unit, place in cases[:5]:
        print(f"  {seconds * 1e3:7.2f} ms  ({seconds / base:6.0f}x)  {unit!r:>16} in {place}")


if __name__ == "__main__":
    main()
