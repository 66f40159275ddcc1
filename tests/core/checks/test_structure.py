"""Structure check: scheme, host form, userinfo, port, nesting, TLD, shortener, hosting."""

from __future__ import annotations

import pytest

from linkguard.core.model import Verdict
from tests.core.support import Judging, codes

CASES = [
    # (url, codes expected, codes that must be absent)
    ("javascript:alert(document.cookie)", {"scheme.dangerous"}, set()),
    ("JaVaScRiPt:alert(1)", {"scheme.dangerous"}, set()),
    ("java\tscript:alert(1)", {"scheme.dangerous"}, set()),
    ("data:text/html;base64,PHNjcmlwdD4=", {"scheme.dangerous"}, set()),
    ("vbscript:msgbox(1)", {"scheme.dangerous"}, set()),
    ("file:///etc/passwd", {"scheme.dangerous"}, set()),
    ("ftp://files.example.org/a.zip", {"scheme.other"}, {"scheme.dangerous"}),
    ("http://example.org/", {"scheme.plain_http"}, set()),
    ("https://user@example.org/", {"url.userinfo"}, {"url.userinfo_domain"}),
    ("https://login.microsoftonline.com@evil.net/", {"url.userinfo_domain"}, set()),
    ("http://3232235777/", {"host.ip_literal"}, set()),
    ("http://0x7f.1/", {"host.ip_literal"}, set()),
    ("http://[2001:db8::1]/", {"host.ip_literal"}, set()),
    ("https://example.org:8443/", {"host.port"}, set()),
    ("https://example.org:443/", set(), {"host.port"}),  # default port: not unusual
    ("https://a.b.c.d.example.org/", {"host.deep_subdomain"}, set()),
    ("https://a.b.example.org/", set(), {"host.deep_subdomain"}),
    ("https://free-gift-card-claim-now.com/", {"host.many_hyphens"}, set()),
    ("https://shop.example.tk/", {"tld.suspicious"}, set()),
    ("https://example.xyz/", {"tld.suspicious"}, set()),
    ("https://bit.ly/3xYzAbC", {"redirect.shortener"}, set()),
    ("https://bit.ly/", set(), {"redirect.shortener"}),  # the shortener's own home page
    ("https://mysite.000webhostapp.com/", {"hosting.free"}, set()),
    ("https://000webhostapp.com/", set(), {"hosting.free"}),  # the platform's own page
    ("https://alice.github.io/login", {"hosting.free"}, set()),
    ("https://github.io/", set(), {"hosting.free"}),
    ("https://docs.google.com/forms/d/e/1FAIpQL/viewform", {"hosting.free"}, set()),
    ("https://docs.google.com/document/d/1abc/edit", set(), {"hosting.free"}),
    ("https://www.example.org/", set(), {"hosting.free", "tld.suspicious", "host.port"}),
]


@pytest.mark.parametrize(("url", "present", "absent"), CASES)
def test_structure_signals(crafted: Judging, url: str, present: set[str],
                           absent: set[str]) -> None:
    found = codes(crafted(url))
    assert present <= found, found
    assert not absent & found, found


@pytest.mark.parametrize(("url", "verdict"), [
    ("javascript:alert(1)", Verdict.BLOCK),
    ("https://login.microsoftonline.com@evil.net/", Verdict.CONFIRM),
    ("http://203.0.113.7/", Verdict.WARN),
    ("https://www.example.org/", Verdict.ALLOW),
    ("http://example.org/", Verdict.ALLOW),  # plain http alone is mild
])
def test_default_policy_verdicts(crafted: Judging, url: str, verdict: Verdict) -> None:
    assert crafted(url).verdict is verdict


def test_ip_range_is_evidence(crafted: Judging) -> None:
    reason = next(r for r in crafted("http://0177.0.0.1/").reasons
                  if r.code == "host.ip_literal")
    assert reason.evidence == {"host": "127.0.0.1", "range": "loopback"}
