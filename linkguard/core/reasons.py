"""The reason vocabulary: stable codes every verdict is explained with.

Admins filter click logs by these codes and API callers branch on them, so a code, once
released, keeps its meaning. New codes may be added; none is renamed. ``docs/reasons.md``
documents this table with the default weights (a test keeps the two in step), and
``linkguard reasons`` prints it.
"""

from __future__ import annotations

REASONS: dict[str, str] = {
    # Admin lists (precedence: block > allow > everything else)
    "list.block": "An administrator has blocked this address.",
    "list.allow": "An administrator has allowed this address.",
    # The URL itself
    "url.invalid": "This is not a web address a browser could open.",
    "url.userinfo": "The address hides its real destination behind a user name ('…@').",
    "url.userinfo_domain": "The part before '@' looks like a web address, but the link goes "
    "to the site after the '@'.",
    "url.embedded_email": "The address carries an e-mail address, as personalised phishing "
    "links often do.",
    "scheme.dangerous": "The link would run code or open local data instead of a web page.",
    "scheme.other": "The link is not an ordinary web link (not http or https).",
    "scheme.plain_http": "The site is reached without encryption (http).",
    "scheme.http_credentials": "A page for signing in or paying is reached without "
    "encryption, so what is typed there could be read on the way.",
    "host.ip_literal": "The link goes to a raw IP address instead of a named site.",
    "host.port": "The link uses an unusual network port.",
    "host.deep_subdomain": "The address has an unusually long chain of sub-domains.",
    "host.many_hyphens": "The site name is made of many hyphenated words.",
    "host.long_name": "The site name is unusually long.",
    "host.embedded_domain": "The address puts what looks like the end of a familiar domain "
    "(such as '.com') in front of the real one.",
    "host.random_label": "The site name looks machine-generated.",
    "host.numbered_name": "The site name ends in a serial number, as names made in bulk do.",
    "tld.suspicious": "The site's top-level domain is heavily used for abuse.",
    "hosting.free": "The page is published on a platform where anyone can publish "
    "(free hosting, site builder, form or file sharing).",
    "redirect.shortener": "The link goes through a URL shortener that hides the real "
    "destination.",
    "path.lure": "The address uses words phishing pages use (log-in, verify, account …).",
    "path.brand": "The address names a well-known brand that does not own this site.",
    "path.kit": "The address has the shape of a phishing kit page.",
    "url.hash_token": "The address carries a long machine-made identifier (a hash), as "
    "phishing links made for each recipient do.",
    "domain.lure_words": "The site name is built from words phishing sites use "
    "(secure, verify, login …).",
    "host.lure_word": "The site name contains a word phishing sites use (secure, verify, "
    "login …).",
    # Lookalikes of protected brands and of the organisation's own domains
    "lookalike.homoglyph": "The site name is made to look like a protected brand with "
    "look-alike characters.",
    "lookalike.typo": "The site name is a misspelling of a protected brand.",
    "lookalike.combo": "The site name combines a protected brand with other words.",
    "lookalike.brand_subdomain": "A protected brand's name appears in front of an unrelated "
    "site's name.",
    "idn.mixed_script": "The site name mixes letters from different alphabets.",
    "idn.invalid": "The site name contains a malformed international label.",
    # Display text
    "mismatch.display_text": "The link's text shows a different site from the one it opens.",
    # Facts from outside
    "domain.young": "The site's domain was registered very recently.",
    "domain.unregistered": "The site's domain is not registered.",
    "domain.age_unknown": "The site's registration date could not be checked.",
    "reputation.feed": "The address is on a phishing or malware feed.",
    "redirect.chain": "The link redirects to another address.",
}


def message_for(code: str) -> str:
    return REASONS.get(code, code)
