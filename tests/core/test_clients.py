"""Telling people from scanners, and what the click log keeps of an address."""

from __future__ import annotations

import pytest

from linkguard.core.clients import ClientView, ScannerAgents, classify, client_ip_for_log

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
SAFARI_IOS = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
AGENTS = ScannerAgents()


@pytest.mark.parametrize(("view", "kind"), [
    (ClientView("GET", CHROME, HTML, "en-US", "navigate"), "human"),
    (ClientView("GET", SAFARI_IOS, HTML, "de-DE", ""), "human"),
    (ClientView("POST", CHROME, HTML, "fr", "navigate"), "human"),
    (ClientView("HEAD", CHROME, HTML, "en", "navigate"), "scanner"),
    (ClientView("OPTIONS", CHROME, HTML, "en", ""), "scanner"),
    (ClientView("GET", "", HTML, "en", ""), "scanner"),
    (ClientView("GET", CHROME, HTML, "", "navigate"), "scanner"),
    (ClientView("GET", CHROME, "application/json", "en", ""), "scanner"),
    (ClientView("GET", CHROME, HTML, "en", "no-cors"), "scanner"),
    (ClientView("GET", "Mozilla/5.0 (compatible; bingbot/2.0)", HTML, "en", ""), "scanner"),
    (ClientView("GET", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", HTML,
                "en", ""), "scanner"),
    (ClientView("GET", "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) "
                "WindowsPowerShell/5.1", HTML, "en", ""), "human"),
    (ClientView("GET", "Microsoft Office Word 2014", HTML, "en", ""), "scanner"),
    (ClientView("GET", "Mozilla/4.0 (compatible; ms-office; MSOffice 16)", HTML, "en", ""),
     "scanner"),
    (ClientView("GET", "facebookexternalhit/1.1", HTML, "en", ""), "scanner"),
    (ClientView("GET", "Mozilla/5.0 HeadlessChrome/120.0", HTML, "en", "navigate"), "scanner"),
    (ClientView("GET", "python-requests/2.31.0", "*/*", "", ""), "scanner"),
    (ClientView("GET", "curl/8.5.0", "*/*", "", ""), "scanner"),
    (ClientView("GET", "WhatsApp/2.23.20.0", "*/*", "", ""), "scanner"),
])
def test_classify(view: ClientView, kind: str) -> None:
    got, why = classify(view, AGENTS)
    assert got == kind, why
    assert bool(why) == (kind == "scanner")


def test_admins_add_agents() -> None:
    agents = ScannerAgents(("acmescan",))
    view = ClientView("GET", "Mozilla/5.0 AcmeScan/1.0", HTML, "en", "navigate")
    assert classify(view, agents)[0] == "scanner"
    assert classify(view, ScannerAgents(()))[0] == "human"


@pytest.mark.parametrize(("ip", "mode", "expected"), [
    ("203.0.113.77", "full", "203.0.113.77"),
    ("203.0.113.77", "truncate", "203.0.113.0/24"),
    ("2001:db8:1234:5678::1", "truncate", "2001:db8:1234::/48"),
    ("::ffff:203.0.113.77", "truncate", "203.0.113.0/24"),
    ("not-an-ip", "truncate", "?"),
    ("", "hash", "?"),
])
def test_client_ip_for_log(ip: str, mode: str, expected: str) -> None:
    assert client_ip_for_log(ip, mode, secret=b"k") == expected  # type: ignore[arg-type]


def test_hashed_ip_is_keyed() -> None:
    one = client_ip_for_log("203.0.113.77", "hash", secret=b"a")
    assert one == client_ip_for_log("203.0.113.77", "hash", secret=b"a")
    assert one != client_ip_for_log("203.0.113.77", "hash", secret=b"b")
    assert one != client_ip_for_log("203.0.113.78", "hash", secret=b"a")
    assert client_ip_for_log("::ffff:203.0.113.77", "hash", secret=b"a") == one
