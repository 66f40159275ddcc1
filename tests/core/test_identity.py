"""Identity binding: the signed-in address against the link's recipient, as tables."""

from __future__ import annotations

import pytest

from linkguard.core.identity import (
    AliasMap,
    BindingOutcome,
    IdentityPolicy,
    NoRecipientPolicy,
    bind,
    canonical_address,
    parse_alias_groups,
)
from linkguard.core.listfile import ListFileError

ALIASES = parse_alias_groups(
    """
    # one person, several addresses
    alice@corp.example = a.smith@corp.example, alice.smith@corp.example
    bob@corp.example robert@corp.example ; carol@corp.example = c.jones@corp.example
    """, "aliases.txt")

POLICY = IdentityPolicy.build(accepted_domains=["corp.example", "Bücher.example."],
                              aliases=ALIASES)
MEMBERS = IdentityPolicy.build(accepted_domains=["corp.example"],
                               no_recipient=NoRecipientPolicy.ORG_MEMBER)
ANY_DOMAIN = IdentityPolicy.build()

M, X, OUT, NONE, MEMBER = (BindingOutcome.MATCH, BindingOutcome.MISMATCH,
                           BindingOutcome.OUTSIDE_ORG, BindingOutcome.NO_RECIPIENT,
                           BindingOutcome.MEMBER)


@pytest.mark.parametrize(("email", "recipient", "policy", "expected"), [
    # the recipient, however the IdP spells the case
    ("alice@corp.example", "alice@corp.example", POLICY, M),
    ("Alice@Corp.Example", "alice@corp.example", POLICY, M),
    ("alice@corp.example", "ALICE@CORP.EXAMPLE.", POLICY, M),
    # aliases, in both directions and between two aliases of one group
    ("a.smith@corp.example", "alice@corp.example", POLICY, M),
    ("alice@corp.example", "Alice.Smith@corp.example", POLICY, M),
    ("a.smith@corp.example", "alice.smith@corp.example", POLICY, M),
    ("robert@corp.example", "bob@corp.example", POLICY, M),
    ("c.jones@corp.example", "carol@corp.example", POLICY, M),
    # subaddresses: mail to alice+news@ is Alice's mail
    ("alice@corp.example", "alice+news@corp.example", POLICY, M),
    ("a.smith@corp.example", "alice+news@corp.example", POLICY, M),
    # Unicode and A-label domains are one domain
    ("hans@bücher.example", "hans@xn--bcher-kva.example", POLICY, M),
    # someone else: a forwarded link
    ("bob@corp.example", "alice@corp.example", POLICY, X),
    ("robert@corp.example", "alice@corp.example", POLICY, X),
    ("carol@corp.example", "bob@corp.example", POLICY, X),
    ("alice@corp.example", "alicex@corp.example", POLICY, X),
    ("alice@corp.example", "alice@corp.example.evil", POLICY, X),
    ("alice@corp.example", "not an address", POLICY, X),
    ("not an address", "alice@corp.example", POLICY, X),
    # a "+tag" alone is a mailbox name, not a subaddress of the empty name
    ("+tag@corp.example", "tag@corp.example", POLICY, X),
    # the right local part at another domain is someone else, and outside the organisation
    ("alice@corp.example.evil", "alice@corp.example", POLICY, OUT),
    ("alice@gmail.example", "alice@gmail.example", POLICY, OUT),
    ("alice@sub.corp.example", "alice@sub.corp.example", POLICY, OUT),
    # without accepted domains any domain may match, but only the recipient
    ("alice@gmail.example", "alice@gmail.example", ANY_DOMAIN, M),
    ("bob@gmail.example", "alice@gmail.example", ANY_DOMAIN, X),
    # links without a recipient follow the policy
    ("alice@corp.example", None, POLICY, NONE),
    ("alice@corp.example", "", POLICY, NONE),
    ("alice@corp.example", None, MEMBERS, MEMBER),
    ("alice@else.example", None, MEMBERS, OUT),
    # "any member" needs to know what the organisation is
    ("alice@corp.example", None,
     IdentityPolicy.build(no_recipient=NoRecipientPolicy.ORG_MEMBER), NONE),
])
def test_bind(email: str, recipient: str | None, policy: IdentityPolicy,
              expected: BindingOutcome) -> None:
    binding = bind(email, recipient, policy)
    assert binding.outcome is expected, binding.message
    assert binding.allowed == (expected in (M, MEMBER))


def test_mismatch_message_does_not_reveal_the_recipient() -> None:
    binding = bind("bob@corp.example", "alice@corp.example", POLICY)
    assert "alice" not in binding.message
    assert "bob@corp.example" in binding.message


def test_subaddresses_can_be_distinct_mailboxes() -> None:
    strict = IdentityPolicy.build(accepted_domains=["corp.example"], subaddress_separator="")
    assert bind("alice@corp.example", "alice+news@corp.example", strict).outcome is X
    dash = IdentityPolicy.build(accepted_domains=["corp.example"], subaddress_separator="-")
    assert bind("alice@corp.example", "alice-news@corp.example", dash).outcome is M


@pytest.mark.parametrize(("address", "expected"), [
    ("Alice@Corp.Example", "alice@corp.example"),
    ("  alice+x@corp.example. ", "alice@corp.example"),
    ("ÄLICE@corp.example", "älice@corp.example"),
    ("alice@bücher.example", "alice@xn--bcher-kva.example"),
    ("alice", None),
    ("alice@", None),
    ("@corp.example", None),
    ("a@b@corp.example", None),
    ("alice smith@corp.example", None),
    ("alice@corp..example", None),
    ("alice@exa mple", None),
])
def test_canonical_address(address: str, expected: str | None) -> None:
    assert canonical_address(address) == expected


@pytest.mark.parametrize(("text", "problem"), [
    ("alice@corp.example", "alias group of one"),
    ("alice@corp.example = nope", "not an address"),
    ("a@corp.example = b@corp.example\nb@corp.example = c@corp.example",
     "already in another alias group"),
])
def test_alias_file_problems(text: str, problem: str) -> None:
    with pytest.raises(ListFileError) as caught:
        parse_alias_groups(text, "aliases.txt")
    assert problem in str(caught.value)
    assert "aliases.txt:" in str(caught.value)


def test_empty_alias_text_is_no_aliases() -> None:
    assert parse_alias_groups("# nothing yet\n\n", "x") == AliasMap()


def test_bad_accepted_domain_is_refused() -> None:
    with pytest.raises(ValueError, match="not a valid domain"):
        IdentityPolicy.build(accepted_domains=["corp example"])
