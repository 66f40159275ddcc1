"""The MIME link rewriter: mail bytes in, mail bytes out, every clickable link sealed.

Independent of the token format: the caller passes a :class:`LinkSealer`. See
:mod:`linkguard.rewriter.message` for what is changed, what is left alone and why.
"""

from linkguard.rewriter.message import rewrite_message
from linkguard.rewriter.model import (
    LinkOutcome,
    LinkPlace,
    LinkRecord,
    LinkSealer,
    PartNote,
    Reason,
    RewriteContext,
    RewriteReport,
)

__all__ = [
    "LinkOutcome",
    "LinkPlace",
    "LinkRecord",
    "LinkSealer",
    "PartNote",
    "Reason",
    "RewriteContext",
    "RewriteReport",
    "rewrite_message",
]
