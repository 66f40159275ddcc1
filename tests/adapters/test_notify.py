"""The admins' notice of a new access request."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from linkguard.adapters.notify import AccessNotifier, defang
from linkguard.ports import AccessRequest, AccessStatus, NewAccessRequest


class Outbox:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


@pytest.mark.parametrize(("url", "shown"), [
    ("https://evil.example/login?a=b.c", "hxxps://evil[.]example/login?a=b.c"),
    ("http://198.51.100.7:8080/x", "hxxp://198[.]51[.]100[.]7:8080/x"),
    ("https://a.b.example", "hxxps://a[.]b[.]example"),
    ("no-scheme.example/path", "no-scheme[.]example/path"),
])
def test_defang(url: str, shown: str) -> None:
    assert defang(url) == shown


def test_the_notice_names_who_what_and_why_without_a_live_link() -> None:
    outbox = Outbox()
    notify = AccessNotifier(outbox, sender="linkguard@corp.test",
                            recipients=["secops@corp.test"],
                            admin_url="https://links.corp.test/admin/access", org_name="Corp")
    found = AccessRequest(
        id=7, status=AccessStatus.PENDING, created=datetime(2026, 11, 2, tzinfo=UTC),
        request=NewAccessRequest(
            token_id="0123456789abcdef", requester="alice@corp.test", method="oidc",  # noqa: S106
            justification="Invoice portal\nfrom our supplier",
            destination="https://xn--pypal-4ve.com/login",
            registrable_domain="xn--pypal-4ve.com", reasons=("lookalike.homoglyph",)))
    notify(found)
    (message,) = outbox.sent
    assert message["To"] == "secops@corp.test"
    assert message["Subject"] == ("Access request #7: alice@corp.test asks to open "
                                  "xn--pypal-4ve.com")
    assert message["Auto-Submitted"] == "auto-generated"
    body = message.get_content()
    assert "hxxps://xn--pypal-4ve[.]com/login" in body
    assert "https://xn--pypal-4ve.com" not in body
    assert "    Invoice portal\n    from our supplier" in body
    assert "lookalike.homoglyph" in body
    assert "/v1/admin/access-requests/7/approve" in body


def test_a_notifier_needs_an_address() -> None:
    with pytest.raises(ValueError, match="at least one address"):
        AccessNotifier(Outbox(), sender="a@b.test", recipients=[], admin_url="/", org_name="x")
