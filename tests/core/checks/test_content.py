"""Content check: lure words in host and path, brand names on foreign sites, kit shapes."""

from __future__ import annotations

import pytest

from tests.core.support import Judging, codes

CASES = [
    ("https://example.org/account/login", {"path.lure"}, set()),
    ("https://example.org/blog/2024/spring-recipes", set(), {"path.lure", "path.kit"}),
    ("https://khriam.example/wp-includes/blocks/tele/login.php", {"path.kit"}, set()),
    ("https://example.org/wp-content/uploads/2021/03/menu.pdf", set(), {"path.kit"}),
    ("https://example.org/index.php?cmd=login_submit&id=abc", {"path.kit"}, set()),
    ("https://example.org/lloyds/Login.php", {"path.kit"}, set()),
    ("https://example.org/secure/paypal/update", {"path.brand"}, set()),
    ("https://example.org/ib.paypal.com/signin.php", {"path.brand"}, set()),
    ("https://www.paypal.com/signin", set(), {"path.brand"}),  # the brand's own site
    ("https://example.org/#victim@corp.example", {"url.embedded_email"}, set()),
    ("https://news.example.org/unsub?email=a@b.example", {"url.embedded_email"}, set()),
    ("https://secure-account-update-billing.com/", {"domain.lure_words"}, set()),
    ("https://verifyaccountsupport.net/", {"domain.lure_words"}, set()),
    ("https://www.securityweek.com/", set(), {"domain.lure_words"}),
    ("https://example.org/", set(), {"path.lure", "path.kit", "path.brand",
                                     "url.embedded_email", "domain.lure_words"}),
]


@pytest.mark.parametrize(("url", "present", "absent"), CASES)
def test_content_signals(crafted: Judging, url: str, present: set[str],
                         absent: set[str]) -> None:
    found = codes(crafted(url))
    assert present <= found, found
    assert not absent & found, found


def test_fragment_email_counts_more_than_query_email(crafted: Judging) -> None:
    fragment = crafted("https://example.org/x#victim@corp.example")
    query = crafted("https://example.org/x?u=victim@corp.example")
    assert fragment.score > query.score


def test_sign_in_page_over_plain_http(crafted: Judging) -> None:
    plain = crafted("http://example.org/account/login")
    secure = crafted("https://example.org/account/login")
    assert "scheme.http_credentials" in codes(plain)
    assert "scheme.http_credentials" not in codes(secure)
    assert plain.verdict > secure.verdict
    assert "scheme.http_credentials" not in codes(crafted("http://example.org/blog/recipes"))


@pytest.mark.parametrize(("url", "shape"), [
    ("https://example.org/doc/info/index.html.................", "padding"),
    ("https://example.org/0338e571d4e8671c72ff7976af44cd8c/", "per-visit-directory"),
    ("https://example.org/account/fαilεdsync", "mixed-script-path"),
])
def test_kit_shapes(crafted: Judging, url: str, shape: str) -> None:
    reason = next(r for r in crafted(url).reasons if r.code == "path.kit")
    assert shape in str(reason.evidence["shapes"])


@pytest.mark.parametrize("url", [
    "https://example.org/docs/v1.2.3/",
    "https://example.org/download/0338e571d4e8671c72ff7976af44cd8c.zip",
    "https://example.org/wiki/Αθήνα",  # all Greek: a real word
    "https://example.org/blog/Москва-guide",  # Cyrillic word beside a Latin one
])
def test_kit_shape_near_misses(crafted: Judging, url: str) -> None:
    assert "path.kit" not in codes(crafted(url))


@pytest.mark.parametrize("url", [
    "http://security.ubuntu.com/ubuntu/dists/jaunty-security/main/Translation-en.bz2",
    "http://archive.example.org/dists/jaunty-updates/Release.gpg",
    "http://mail.example.org/support/bin/answer.py?answer=6596",
])
def test_http_archives_and_help_pages_are_not_credential_pages(crafted: Judging,
                                                               url: str) -> None:
    assert "scheme.http_credentials" not in codes(crafted(url))
