"""Content check: lure words in host and path, brand names on foreign sites, kit shapes."""

from __future__ import annotations

import pytest

from linkguard.core.model import Verdict
from tests.core.support import Judging, Strengths, codes

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
    # An unsubscribe link carries the address too: a mild sign, not a phishing kit's.
    ("https://news.example.org/unsub?email=a@b.example", {"url.embedded_email"}, {"path.kit"}),
    ("https://lists.example.org/unsubscribe.php?email=a@b.example&l=3", {"url.embedded_email"},
     {"path.kit"}),
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


@pytest.mark.parametrize(("url", "strength"), [
    ("https://mysecurebank.com/", 1.0),  # a word that asks for a password or a payment
    ("https://quickwallet.net/", 1.0),
    ("https://fasttracking.net/", 0.5),  # any other lure word: half
])
def test_one_lure_word_in_the_site_name(strengths: Strengths, url: str,
                                        strength: float) -> None:
    found = strengths("content", url)
    assert found.get("host.lure_word") == strength
    assert "domain.lure_words" not in found


@pytest.mark.parametrize("url", [
    "https://www.securityweek.com/",  # "secure" is not inside "security"
    "https://example.org/login",  # the word is in the path, not the name
    "https://paypal-login.net/",  # beside a brand: the lookalike check's business
    "https://paypa1-login.net/",  # beside a brand behind a look-alike digit
    "https://www.paypal.com/",
    "https://secure-account-update-billing.com/",  # several words: domain.lure_words instead
])
def test_one_lure_word_near_misses(strengths: Strengths, url: str) -> None:
    assert "host.lure_word" not in strengths("content", url)


def test_one_lure_word_alone_allows(crafted: Judging) -> None:
    assert crafted("https://mysecurebank.com/").verdict is Verdict.ALLOW


@pytest.mark.parametrize(("url", "strength"), [
    ("https://example.org/account", 0.5),
    ("https://example.org/account/login", 0.8),
    ("https://example.org/help/login/verify/account/signin/", 1.0),  # kits string them
])
def test_path_lure_grows_with_the_words(strengths: Strengths, url: str,
                                        strength: float) -> None:
    assert strengths("content", url)["path.lure"] == strength


@pytest.mark.parametrize("url", [
    "https://example.org/verify?id=9a1f3c5e7b2d4f6a8c0e",
    "https://example.org/0f3a9c2e7b1d4a6f/index.html",
    "https://example.org/doc/cmd-login=77c8f8a6ca43d7c15bd362bb16c36674/",
])
def test_hash_tokens(crafted: Judging, url: str) -> None:
    assert "url.hash_token" in codes(crafted(url))


@pytest.mark.parametrize("url", [
    "https://example.org/ticket/12345678901234567890",  # digits only: a number
    "https://example.org/facade/deadbeefcafebabe",  # letters only
    "https://example.org/a/0f3a9c2e7b1d4a",  # 14 digits: too short for a digest
    "https://www.paypal.com/x?token=9a1f3c5e7b2d4f6a8c0e",  # the brand's own site
    "https://example.org/x0f3a9c2e7b1d4a6f9",  # part of a longer word
])
def test_hash_token_near_misses(crafted: Judging, url: str) -> None:
    assert "url.hash_token" not in codes(crafted(url))


@pytest.mark.parametrize(("url", "shape"), [
    ("https://example.org/images/yah/yah.php", "page-in-asset-directory"),
    ("https://example.org/components/com_user/bbtonline.html", "page-in-asset-directory"),
    ("https://example.org/PDF/65747937d5e8c967ce822962d91a82af/index.pdf.html",
     "per-visit-directory"),
    ("https://example.org/mkbbssl/6ba9d483877d4c7adabce551e292a80d/", "per-visit-directory"),
    ("https://example.org/scan/invoice.pdf.html", "document-named-page"),
    ("https://example.org/.tmb/mobile/", "hidden-directory"),
    ("https://example.org/wp-content/themes/x/signin/", "cms-code-directory"),
    ("https://example.org/spk/anmeldung.php", "credential-page"),  # a lure word, German
    ("https://example.org/konto.html", "credential-page"),
])
def test_more_kit_shapes(crafted: Judging, url: str, shape: str) -> None:
    reason = next(r for r in crafted(url).reasons if r.code == "path.kit")
    assert shape in str(reason.evidence["shapes"]).split(",")


@pytest.mark.parametrize("url", [
    "https://example.org/images/logo.png",  # an asset in an asset folder
    "https://example.org/css/site.css",
    "https://example.org/docs/index.html",
    "https://example.org/blob/0123456789abcdef0123456789abcdef01234567/src/app.py",  # a commit
    "https://example.org/commit/0123456789abcdef0123456789abcdef01234567",
    "https://example.org/static/0123456789abcdef0123/app.js",  # a build hash over an asset
    "https://example.org/report.pdf",
    "https://example.org/.well-known/change-password",  # the one published dot-folder... *
    "https://example.org/support.html",  # lure words that also name documentation pages
    "https://example.org/security.html",
    "https://example.org/docs/openid-connect.html",
])
def test_more_kit_shape_near_misses(crafted: Judging, url: str) -> None:
    reason = next((r for r in crafted(url).reasons if r.code == "path.kit"), None)
    shapes = str(reason.evidence["shapes"]).split(",") if reason else []
    # * .well-known pages keep their older "cms-internals" reading; none of the new shapes
    assert not {"page-in-asset-directory", "per-visit-directory", "document-named-page",
                "hidden-directory", "cms-code-directory", "credential-page"} & set(shapes)


def test_wordpress_code_folders_count_fully_alone(strengths: Strengths) -> None:
    assert strengths("content", "https://example.org/wp-includes/IT/")["path.kit"] == 1.0
    # the admin area is where WordPress's own notification mails link to: half, needs company
    assert strengths("content", "https://example.org/wp-admin/post.php?post=1")[
        "path.kit"] == 0.8


@pytest.mark.parametrize(("url", "where"), [
    ("https://example.org/app/?d2VuZHkucGVhcm1hbkBidGludGVybmV0LmNvbQ==", "query"),
    ("https://example.org/app/#d2VuZHkucGVhcm1hbkBidGludGVybmV0LmNvbQ", "fragment"),
])
def test_base64_encoded_email(crafted: Judging, url: str, where: str) -> None:
    reason = next(r for r in crafted(url).reasons if r.code == "url.embedded_email")
    assert reason.evidence == {"where": where, "encoding": "base64"}


@pytest.mark.parametrize("url", [
    "https://example.org/?q=aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=",  # "hello world hello world"
    "https://example.org/?t=eyJhbGciOiJIUzI1NiJ9",  # a JWT header, no address
    "https://example.org/?id=AAAAAAAAAAAAAAAAAAAAAAAAAAAA",
])
def test_base64_encoded_email_near_misses(crafted: Judging, url: str) -> None:
    assert "url.embedded_email" not in codes(crafted(url))


def test_quoted_printable_remnant_of_a_kit_parameter(crafted: Judging) -> None:
    reason = next(r for r in crafted("http://example.org/index2.php?cmd=3Dlogin_submit&id=3D1")
                  .reasons if r.code == "path.kit")
    assert "kit-parameters" in str(reason.evidence["shapes"])


def test_address_in_the_fragment_warns_alone_in_the_query_it_needs_company(
        crafted: Judging) -> None:
    assert crafted("https://example.org/x#victim@corp.example").verdict is Verdict.WARN
    assert crafted("https://news.example.org/unsub?u=a@b.example").verdict is Verdict.ALLOW


def test_unsubscribe_links_with_the_address_do_not_warn(crafted: Judging) -> None:
    for url in ("https://news.example.org/unsubscribe?email=alice@corp.example",
                "https://click.mailer.example/u/?email=alice%40corp.example&t=1"):
        assert crafted(url).verdict < Verdict.WARN, url
