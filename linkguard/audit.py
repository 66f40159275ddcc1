"""The audit-log port: who did what to which object, kept for admins and investigations.

The same shape as the admin stores' ``AuditEvent`` / ``AuditLog`` (lists, API keys): one log for
every audited change, so an identity-bound confirmation and a list edit read alike. When
``linkguard.ports`` carries these two, this module only re-exports them from there.

Identity-bound confirmation writes ``click.confirm`` and ``click.refuse`` events: ``actor`` is
``<method>:<e-mail>`` (``oidc:alice@corp.example``, ``mailcode:…``, ``anonymous``), the object is
the link's token id, and ``after`` holds subject, e-mail, destination, reasons, client IP (as the
click log keeps it), user agent and the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["AuditEvent", "AuditLog"]


@dataclass(frozen=True, slots=True)
class AuditEvent:
    at: datetime
    actor: str  # "api-key:3 ops", "oidc:alice@example.com", "cli:root", "files"
    action: str  # "list.add", "list.sync.remove", "apikey.revoke", "click.confirm", …
    object_type: str  # "list_entry", "api_key", "click", …
    object_id: str = ""
    before: dict[str, object] | None = None
    after: dict[str, object] | None = None
    id: int = 0  # assigned by the store


class AuditLog(Protocol):
    def record(self, event: AuditEvent) -> None: ...

    def recent(self, *, limit: int = 100, before_id: int | None = None,
               object_type: str | None = None) -> list[AuditEvent]:
        """Newest first; ``before_id`` pages further back."""
