"""Telling admins of a new access request, by mail through the configured mailer.

The destination is written defanged (``hxxps://evil[.]example/``): the notice goes to people
who will read it in a mail client, and the address it names was blocked for a reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from linkguard.adapters.mailcode import Mailer
from linkguard.ports import AccessRequest


def defang(url: str) -> str:
    """``https://a.example/x`` → ``hxxps://a[.]example/x``: readable, not clickable."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url.replace(".", "[.]")
    host, slash, path = rest.partition("/")
    return f"{scheme.replace('t', 'x')}://{host.replace('.', '[.]')}{slash}{path}"


class AccessNotifier:
    """``notify(request)``: one mail to the admins' addresses. Blocking (SMTP)."""

    def __init__(self, mailer: Mailer, *, sender: str, recipients: Sequence[str],
                 admin_url: str, org_name: str) -> None:
        if not recipients:
            raise ValueError("an access notifier needs at least one address")
        self.mailer, self.sender, self.recipients = mailer, sender, list(recipients)
        self.admin_url, self.org_name = admin_url, org_name

    def __call__(self, found: AccessRequest) -> None:
        self.mailer.send(self.message(found))

    def message(self, found: AccessRequest) -> EmailMessage:
        new = found.request
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message["Subject"] = (f"Access request #{found.id}: {new.requester} asks to open "
                              f"{new.registrable_domain or 'a blocked link'}")
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
        reasons = ", ".join(new.reasons) or "(none recorded)"
        message.set_content(
            f"{new.requester} (signed in by {new.method}) asks to open a link that "
            f"{self.org_name}'s link protection blocked.\n\n"
            f"Destination (defanged): {defang(new.destination)}\n"
            f"Blocked for: {reasons}\n"
            f"Their reason:\n\n    {new.justification.replace(chr(10), chr(10) + '    ')}\n\n"
            f"Approve or deny it at {self.admin_url} or through the admin API\n"
            f"(POST /v1/admin/access-requests/{found.id}/approve or /deny).\n")
        return message
