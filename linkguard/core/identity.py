"""Identity binding: is the person who signed in the recipient the link was sent to?

A ``confirm`` verdict lets a click through only for the recipient of the mail (DESIGN.md). The
gateway learns who is clicking from the organisation's IdP (OIDC) or from a code mailed to the
recipient, and this module decides, purely, whether that address *is* the token's recipient.

How two addresses are compared (each step applied to both sides):

1. Case-insensitive over the whole address. RFC 5321 §2.4 lets a server treat local parts as
   case-sensitive, but no mainstream mail system does, and IdPs often change the case of what
   a user typed ("Alice@Corp.example"); the product promise in the issue is case-insensitive.
2. Domains in their ASCII (A-label) form, UTS #46 via ``idna``, so ``bücher.example`` and
   ``xn--bcher-kva.example`` are one domain.
3. Subaddresses: with a separator configured (``+`` by default: Postfix's usual
   ``recipient_delimiter``, Exchange Online and Gmail all deliver ``alice+news@`` to ``alice@``),
   ``local+tag`` compares as ``local``. A mail sent to ``alice+news@corp.example`` is Alice's
   mail, and she signs in as ``alice@corp.example``. Set the separator to "" where ``+`` is part
   of distinct mailbox names.
4. Aliases: an admin-kept list of address groups that are one person
   (``alice@corp.example = a.smith@corp.example``); every address compares as its group.

The signed-in address must also be in an accepted domain (when any are configured): a guest or
external account at the IdP never passes for a member. Links sealed without a recipient follow
the configured policy: any signed-in member of the organisation, or refuse.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

import idna

from linkguard.core.listfile import ListFileError, Problem

__all__ = [
    "AliasMap",
    "Binding",
    "BindingOutcome",
    "Identity",
    "IdentityPolicy",
    "NoRecipientPolicy",
    "bind",
    "canonical_address",
    "parse_alias_groups",
]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is clicking, as proven by a sign-in or a mailed code."""

    subject: str  # the IdP's stable ``sub``; "mailto:<address>" for mailed codes
    email: str  # as the IdP (or the recipient field) spelled it
    groups: tuple[str, ...] = ()
    method: str = "oidc"  # "oidc" | "mailcode": for the audit log


class NoRecipientPolicy(enum.StrEnum):
    """What a link sealed without a recipient (a list mail, a bcc) accepts."""

    ORG_MEMBER = "org_member"  # anyone signed in with an address in an accepted domain
    REFUSE = "refuse"


class BindingOutcome(enum.StrEnum):
    MATCH = "match"  # the signed-in address is the recipient (aliases applied)
    MEMBER = "member"  # no recipient in the link; a member of the organisation, and policy allows
    MISMATCH = "identity_mismatch"  # someone else: a forwarded link
    OUTSIDE_ORG = "identity_outside_org"  # the signed-in address is not in an accepted domain
    NO_RECIPIENT = "identity_no_recipient"  # no recipient in the link and policy refuses


@dataclass(frozen=True, slots=True)
class Binding:
    outcome: BindingOutcome
    message: str

    @property
    def allowed(self) -> bool:
        return self.outcome in (BindingOutcome.MATCH, BindingOutcome.MEMBER)


@dataclass(frozen=True, slots=True)
class AliasMap:
    """Canonical address -> the canonical address standing for its whole group."""

    groups: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def resolve(self, canonical: str) -> str:
        return self.groups.get(canonical, canonical)


@dataclass(frozen=True, slots=True)
class IdentityPolicy:
    accepted_domains: frozenset[str] = frozenset()  # A-label, lower case; empty = any domain
    aliases: AliasMap = field(default_factory=AliasMap)
    no_recipient: NoRecipientPolicy = NoRecipientPolicy.REFUSE
    subaddress_separator: str = "+"  # "" = subaddresses are distinct mailboxes

    @classmethod
    def build(cls, *, accepted_domains: Iterable[str] = (), aliases: AliasMap | None = None,
              no_recipient: NoRecipientPolicy | str = NoRecipientPolicy.REFUSE,
              subaddress_separator: str = "+") -> IdentityPolicy:
        """The policy from configured values; domains are normalised like addresses are."""
        domains = set()
        for domain in accepted_domains:
            ascii_domain = _ascii_domain(domain.strip())
            if ascii_domain is None:
                raise ValueError(f"accepted domain {domain!r} is not a valid domain name")
            domains.add(ascii_domain)
        return cls(frozenset(domains), aliases or AliasMap(), NoRecipientPolicy(no_recipient),
                   subaddress_separator)


# One "@", something on each side, no whitespace: the shape check only. Deliverability is the
# IdP's and the MTA's business; this only keeps junk out of comparisons and logs.
_ADDRESS: Final = re.compile(r"[^@\s]+@[^@\s]+")
_ALIAS_SPLIT: Final = re.compile(r"[\s,=]+")


def _ascii_domain(domain: str) -> str | None:
    domain = domain.rstrip(".").lower()
    if not domain:
        return None
    if domain.isascii():
        return domain if re.fullmatch(r"[a-z0-9_.-]+", domain) and ".." not in domain else None
    try:
        return str(idna.encode(domain, uts46=True).decode("ascii"))
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


def canonical_address(address: str, separator: str = "+") -> str | None:
    """The comparable form of an address, or None when it is not an address at all."""
    address = address.strip()
    if not _ADDRESS.fullmatch(address):
        return None
    local, _, domain = address.rpartition("@")
    ascii_domain = _ascii_domain(domain)
    if ascii_domain is None:
        return None
    local = local.casefold()
    if separator:
        base, sep, _tag = local.partition(separator)
        if sep and base:  # "+tag@" alone is a mailbox name, not a subaddress
            local = base
    return f"{local}@{ascii_domain}"


def parse_alias_groups(text: str, source: str, *, separator: str = "+") -> AliasMap:
    """Alias groups: one group per line (or per ';'), addresses split by '=', ',' or spaces.

    ``#`` starts a comment. An address may appear in one group only: two groups sharing an
    address would silently make two people one, so that is an error, not a merge.
    """
    problems: list[Problem] = []
    groups: dict[str, str] = {}
    for number, raw_line in enumerate(text.splitlines(), start=1):
        for chunk in raw_line.split("#", 1)[0].split(";"):
            members = [part for part in _ALIAS_SPLIT.split(chunk.strip()) if part]
            if not members:
                continue
            if len(members) == 1:
                problems.append(Problem(source, number, f"alias group of one: {members[0]!r}"))
                continue
            canon: list[str] = []
            for member in members:
                canonical = canonical_address(member, separator)
                if canonical is None:
                    problems.append(Problem(source, number, f"not an address: {member!r}"))
                elif canonical in groups:
                    problems.append(Problem(source, number,
                                            f"{member!r} is already in another alias group"))
                elif canonical not in canon:
                    canon.append(canonical)
            for canonical in canon:
                groups[canonical] = canon[0]
    if problems:
        raise ListFileError(problems)
    return AliasMap(MappingProxyType(groups))


def bind(email: str, recipient: str | None, policy: IdentityPolicy) -> Binding:
    """Decide whether the signed-in ``email`` may confirm a link sealed for ``recipient``."""
    signed_in = canonical_address(email, policy.subaddress_separator)
    if signed_in is None:
        return Binding(BindingOutcome.MISMATCH, "the sign-in did not give a usable e-mail address")
    domain = signed_in.rpartition("@")[2]
    if policy.accepted_domains and domain not in policy.accepted_domains:
        return Binding(BindingOutcome.OUTSIDE_ORG,
                       f"{email} is not an address of this organisation")
    if not recipient:
        if policy.no_recipient is NoRecipientPolicy.ORG_MEMBER and policy.accepted_domains:
            return Binding(BindingOutcome.MEMBER, f"{email} is a member of this organisation")
        return Binding(BindingOutcome.NO_RECIPIENT,
                       "this link does not name its recipient, and policy asks for one")
    wanted = canonical_address(recipient, policy.subaddress_separator)
    if wanted is not None and (
            policy.aliases.resolve(signed_in) == policy.aliases.resolve(wanted)):
        return Binding(BindingOutcome.MATCH, f"{email} is the recipient of this link")
    return Binding(BindingOutcome.MISMATCH,
                   f"this link was sent to someone else; you are signed in as {email}")
