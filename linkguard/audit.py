"""The audit log: who did what to which object, kept for admins and investigations.

One log for every audited change (list edits, API keys, identity-bound confirmations), so a
confirmation and a list edit read alike. The port lives in :mod:`linkguard.ports`; this module
names it for the confirmation flow.

Identity-bound confirmation writes ``click.confirm`` and ``click.refuse`` events: ``actor`` is
``<method>:<e-mail>`` (``oidc:alice@corp.example``, ``mailcode:…``, ``anonymous``), the object is
the link's token id, and ``after`` holds subject, e-mail, destination, reasons, client IP (as the
click log keeps it), user agent and the outcome.
"""

from __future__ import annotations

from linkguard.ports import AuditEvent, AuditLog

__all__ = ["AuditEvent", "AuditLog"]
