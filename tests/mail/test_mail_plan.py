"""linkguard.mail: who gets rewritten mail, in how many copies, and when the MTA must retry."""

from __future__ import annotations

import pytest

from linkguard.mail import Copy, MailPolicy, TemporaryFailure, domain_of, message_id_of, plan
from tests.mail.mailkit import PREFIX, broken, claims_of, contexts, misconfigured

LINKED = (b"From: a@outside.test\r\nTo: b@ours.test\r\nMessage-ID: <m1@outside.test>\r\n"
          b"Subject: s\r\n\r\nsee https://example.com/x and https://example.org/y\r\n")
PLAIN = b"From: a@outside.test\r\nTo: b@ours.test\r\nSubject: s\r\n\r\nno links here\r\n"
OURS = MailPolicy(domains=frozenset({"ours.test"}))


@pytest.mark.parametrize(("policy", "sender", "recipient", "expected"), [
    (OURS, "a@outside.test", "b@ours.test", True),  # inbound
    (OURS, "a@outside.test", "b@Mail.Ours.Test.", True),  # subdomain, case, trailing dot
    (OURS, "a@outside.test", "b@notours.test", False),  # outbound (relay): off by default
    (OURS, "a@outside.test", "b@ours.test.evil", False),  # suffix is not subdomain
    (MailPolicy(domains=frozenset({"ours.test"}), outbound=True), "a@ours.test",
     "b@outside.test", True),
    (OURS, "a@ours.test", "b@ours.test", True),  # internal: on by default
    (MailPolicy(domains=frozenset({"ours.test"}), internal=False), "a@ours.test",
     "b@ours.test", False),
    (MailPolicy(domains=frozenset({"ours.test"}), internal=False), "", "b@ours.test", True),
    (MailPolicy(), "a@anything.test", "b@anywhere.test", True),  # no domains: all are ours
    (MailPolicy(internal=False), "a@x.test", "b@x.test", True),  # cannot tell: inbound
])
def test_wants(policy: MailPolicy, sender: str, recipient: str, expected: bool) -> None:
    assert policy.wants(sender, recipient) is expected


@pytest.mark.parametrize(("address", "domain"), [
    ("b@Example.COM", "example.com"), ("<b@example.com.>", "example.com"),
    ("\"a@b\"@example.com", "example.com"), ("postmaster", ""), ("", ""),
])
def test_domain_of(address: str, domain: str) -> None:
    assert domain_of(address) == domain


@pytest.mark.parametrize(("raw", "expected"), [
    (LINKED, "<m1@outside.test>"),
    (b"Message-Id:\r\n <folded@x>\r\nSubject: s\r\n\r\nbody", "<folded@x>"),
    (b"Subject: s\n\nMessage-ID: <in-body@x>\n", None),  # the body is not the header
    (b"message-id: <\xff@x>\n\nbody", "<\ufffd@x>"),
    (PLAIN, None),
])
def test_message_id_of(raw: bytes, expected: str | None) -> None:
    assert message_id_of(raw) == expected


def _links(copy: Copy) -> list[str]:
    text = copy.content.decode()
    return [word for word in text.split() if word.startswith(PREFIX)]


def test_per_recipient_split_binds_each_copy() -> None:
    copies = plan(LINKED, "a@outside.test", ["b@ours.test", "c@ours.test", "d@else.test"],
                  OURS, contexts())
    assert [c.recipients for c in copies] == [("d@else.test",), ("b@ours.test",),
                                              ("c@ours.test",)]
    assert copies[0].content == LINKED  # not ours: untouched
    assert copies[0].header is None
    for copy in copies[1:]:
        links = _links(copy)
        assert [claims_of(link) for link in links] == [
            ("https://example.com/x", copy.recipients[0]),
            ("https://example.org/y", copy.recipients[0])]
        assert copy.header == "rewritten=2; skipped=0"


def test_unbound_when_per_recipient_is_off() -> None:
    policy = MailPolicy(domains=frozenset({"ours.test"}), per_recipient=False)
    [copy] = plan(LINKED, "a@outside.test", ["b@ours.test", "c@ours.test"], policy, contexts())
    assert copy.recipients == ("b@ours.test", "c@ours.test")
    assert {claims_of(link)[1] for link in _links(copy)} == {None}


def test_no_split_when_nothing_was_sealed() -> None:
    [copy] = plan(PLAIN, "a@outside.test", ["b@ours.test", "c@ours.test"], OURS, contexts())
    assert copy.recipients == ("b@ours.test", "c@ours.test")
    assert copy.content.endswith(b"X-LinkGuard: rewritten=0; skipped=0\r\n\r\nno links here\r\n")


def test_already_rewritten_mail_passes_unchanged() -> None:
    [first] = plan(LINKED, "a@outside.test", ["b@ours.test"], OURS, contexts())
    again = plan(first.content, "a@outside.test", ["b@ours.test", "c@ours.test"], OURS,
                 contexts())
    assert [(c.recipients, c.content) for c in again] == [
        (("b@ours.test", "c@ours.test"), first.content)]


def test_forged_header_does_not_exempt_a_message() -> None:
    forged = LINKED.replace(b"Subject: s\r\n", b"Subject: s\r\nX-LinkGuard: rewritten=2\r\n")
    [copy] = plan(forged, "a@outside.test", ["b@ours.test"], OURS, contexts())
    assert len(_links(copy)) == 2
    assert copy.content.count(b"X-LinkGuard:") == 1


def test_no_wanted_recipient_means_no_rewrite() -> None:
    assert plan(LINKED, "a@ours.test", ["x@else.test"], OURS, contexts()) == [
        Copy(("x@else.test",), LINKED)]


def test_internal_error_is_a_temporary_failure() -> None:
    with pytest.raises(TemporaryFailure) as caught:
        plan(LINKED, "a@outside.test", ["b@ours.test"], OURS, broken)
    assert caught.value.status == "4.3.0"


def test_unbuildable_context_is_a_temporary_failure() -> None:
    with pytest.raises(TemporaryFailure) as caught:
        plan(LINKED, "a@outside.test", ["b@ours.test"], OURS, misconfigured)
    assert caught.value.status == "4.3.5"
