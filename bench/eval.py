"""Detection quality, offline: the share of each verdict on labelled sets of URLs.

    python bench/eval.py [--data ../shared/data] [--show SET] [--limit N]

Sets (nothing is fetched; every URL is only a string):

* ``dnstwist:<fuzzer>`` — dnstwist's permutations of each protected brand's main domain
  (all fuzzers but tld-swap, dictionary and various). Target: >= 95% warn or worse each.
* ``combo``, ``brand-subdomain``, ``userinfo`` — generated here from the brands and a word list
  of this script's own (not the engine's lure list). Target: >= 85% confirm or worse.
* ``phishtank`` — real phishing URLs (PhishTank verified-online dump). Target: >= 75% warn+.
  ``phishtank:half-a`` / ``half-b`` split it by a hash of the URL (signals were chosen on A).
* ``top50k`` — popular registrable domains as ``https://<domain>/``. Target: <= 1% confirm+,
  <= 5% warn+.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

# This folder's click.py would shadow the click package httpx imports: leave it off the path
# (as bench/facts.py does; so the imports below come after code).
# ruff: noqa: E402
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from linkguard.bootstrap import build_judge
from linkguard.core.model import Verdict
from linkguard.service import Judge

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"

# Words for generated attacks, chosen from reading phishing reports, independent of the
# engine's own lure list so the evaluation does not grade the list against itself.
ATTACK_WORDS = [
    "login", "signin", "secure", "verify", "account", "update", "support", "help", "service",
    "billing", "payment", "alert", "security", "auth", "confirm", "online", "portal", "center",
    "recovery", "unlock", "id", "customer", "care", "team", "official", "access", "validate",
    "notice", "review", "refund", "invoice", "wallet", "pay", "check", "safe", "info", "web",
    "app", "mail", "my", "desk", "helpdesk", "session", "identity", "pass", "renew", "claim",
]
FREE_TLDS = ["com", "net", "org", "info", "xyz", "top", "online", "site", "co", "io", "us",
             "live", "app", "shop", "support", "ru", "cn", "tk", "ml", "de", "co.uk"]
TARGETS = {
    "dnstwist": ("warn", 0.95, ">="),
    "combo": ("confirm", 0.85, ">="),
    "brand-subdomain": ("confirm", 0.85, ">="),
    "userinfo": ("confirm", 0.85, ">="),
    "phishtank": ("warn", 0.75, ">="),
}


def dnstwist_sets(judge: Judge) -> dict[str, list[str]]:
    import dnstwist  # noqa: PLC0415  # a dev dependency: only the evaluation needs it

    sets: dict[str, list[str]] = defaultdict(list)
    skip = {"tld-swap", "dictionary", "various", "*original"}
    for brand in judge.catalog.brands:
        if brand.own:
            continue
        fuzzer = dnstwist.Fuzzer(brand.domains[0])
        fuzzer.generate()
        owned = set(brand.domains)
        # Three-letter names are also reported apart: one edit of them is mostly another
        # real name ("dh.com", "ubs.com" from ups), which the length-aware bound leaves alone.
        short = len(brand.domains[0].split(".", 1)[0]) <= 3
        for item in fuzzer.domains:
            name = item["fuzzer"]
            if name in skip or item["domain"] in owned:
                continue
            sets[f"dnstwist:{name}"].append(f"https://{item['domain']}/")
            if not short:
                sets[f"dnstwist4+:{name}"].append(f"https://{item['domain']}/")
    return dict(sets)


def generated_sets(judge: Judge, rng: random.Random, per_brand: int = 3) -> dict[str, list[str]]:
    sets: dict[str, list[str]] = defaultdict(list)
    for brand in judge.catalog.brands:
        if brand.own or not brand.tokens:
            continue
        for _ in range(per_brand):
            token = rng.choice(brand.tokens)
            w1, w2 = rng.sample(ATTACK_WORDS, 2)
            tld = rng.choice(FREE_TLDS)
            forms = [f"{token}-{w1}", f"{w1}-{token}", f"{token}-{w1}-{w2}", f"{token}{w1}",
                     f"{w1}{token}", f"{w1}-{token}-{w2}", f"{token}{w1}{w2}"]
            sets["combo"].append(f"https://{rng.choice(forms)}.{tld}/")
            other = f"{w1}-{w2}{rng.randint(1, 99)}.{tld}"
            domain = rng.choice(brand.domains)
            sub_forms = [f"{domain}.{other}", f"www.{domain}.{other}", f"{token}.{other}",
                         f"{token}-{w1}.{other}", f"{w1}.{token}.{other}",
                         f"{domain}-{w1}.{other}"]
            sets["brand-subdomain"].append(f"https://{rng.choice(sub_forms)}/{w2}")
            host = rng.choice([other, f"{rng.randint(1, 223)}.{rng.randint(0, 255)}."
                                      f"{rng.randint(0, 255)}.{rng.randint(1, 254)}"])
            user_forms = [f"{domain}", f"www.{domain}", f"{domain}:{w1}", f"{token}-{w1}",
                          f"{domain}%2F{w1}"]
            sets["userinfo"].append(f"https://{rng.choice(user_forms)}@{host}/{w2}")
    return dict(sets)


def phishtank(data: Path) -> list[str]:
    path = data / "phishing" / "phishtank_verified_online_2021-03-14.tsv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        # The dump HTML-escapes '&' in URLs (``&amp;``); undo that once, as a mail client would.
        return [html.unescape(row["url"]) for row in rows if row.get("url")]


def _half(url: str) -> str:
    return "ab"[hashlib.sha256(url.encode()).digest()[0] & 1]


def top_sites(data: Path) -> list[str]:
    path = data / "top-sites" / "top50k.csv"
    with path.open(encoding="utf-8") as handle:
        return [f"https://{line.split(',', 1)[1].strip()}/" for line in handle if "," in line]


def shares(judge: Judge, urls: Iterable[str], now: datetime) -> tuple[Counter[Verdict], int]:
    counts: Counter[Verdict] = Counter()
    total = 0
    for url in urls:
        counts[judge.judge(url, now=now).verdict] += 1
        total += 1
    return counts, total


def at_least(counts: Counter[Verdict], total: int, verdict: Verdict) -> float:
    return sum(n for v, n in counts.items() if v >= verdict) / total if total else 0.0


def show(judge: Judge, urls: list[str], now: datetime, verdict: str | None, limit: int) -> None:
    shown = 0
    for url in urls:
        decision = judge.judge(url, now=now)
        if verdict and str(decision.verdict) != verdict:
            continue
        print(f"{decision.verdict!s:<8} {decision.score:5.1f} {url[:120]} "
              f"{[r.code for r in decision.reasons]}")
        shown += 1
        if shown >= limit:
            break


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--show", help="print URLs of this set with their verdicts")
    parser.add_argument("--verdict", help="with --show: only this verdict (e.g. allow)")
    parser.add_argument("--limit", type=int, default=50)
    args = parser.parse_args()
    judge = build_judge()
    now = datetime.now(UTC)
    rng = random.Random(20261127)
    sets: dict[str, list[str]] = {}
    sets.update(dnstwist_sets(judge))
    sets.update(generated_sets(judge, rng))
    if args.data.is_dir():
        sets["phishtank"] = phishtank(args.data)
        # A fixed split by hash of the URL: rules were chosen looking at half A only, so half B
        # shows how they do on rows nobody tuned them to.
        for half in "ab":
            sets[f"phishtank:half-{half}"] = [u for u in sets["phishtank"] if _half(u) == half]
        sets["top50k"] = top_sites(args.data)
    else:
        print(f"note: {args.data} not found; phishtank and top50k skipped", file=sys.stderr)
    if args.show:
        show(judge, sets.get(args.show, []), now, args.verdict, args.limit)
        return 0
    long_names = {k.split(":", 1)[1]: v for k, v in sets.items() if k.startswith("dnstwist4+:")}
    sets = {k: v for k, v in sets.items() if not k.startswith("dnstwist4+:")}
    failed = False
    print(f"{'set':<26}{'n':>7}{'allow':>8}{'warn':>8}{'confirm':>9}{'block':>8}"
          f"{'warn+':>8}{'confirm+':>10}  target")
    for name in sorted(sets):
        counts, total = shares(judge, sets[name], now)
        row = [counts[v] / total * 100 if total else 0.0 for v in Verdict]
        warn_up = at_least(counts, total, Verdict.WARN)
        confirm_up = at_least(counts, total, Verdict.CONFIRM)
        target_text = ""
        family = name.split(":", 1)[0]
        if family in TARGETS:
            verdict_name, share, _ = TARGETS[family]
            got = warn_up if verdict_name == "warn" else confirm_up
            ok = got >= share
            target_text = f"{verdict_name}+ >= {share:.0%}: {'ok' if ok else 'MISSED'}"
        elif name == "top50k":
            ok = confirm_up <= 0.01 and warn_up <= 0.05
            target_text = f"confirm+ <= 1%, warn+ <= 5%: {'ok' if ok else 'MISSED'}"
        else:
            ok = True
        failed |= not ok
        if family == "dnstwist":
            # The same fuzzer over brands whose main name has 4 or more letters.
            counts4, total4 = shares(judge, long_names.get(name.split(":", 1)[1], []), now)
            target_text += f"  (4+ letters: {at_least(counts4, total4, Verdict.WARN):.1%})"
        print(f"{name:<26}{total:>7}" + "".join(f"{x:>7.1f}%" for x in row[:2])
              + f"{row[2]:>8.1f}%{row[3]:>7.1f}%{warn_up * 100:>7.1f}%{confirm_up * 100:>9.1f}%"
              + f"  {target_text}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
