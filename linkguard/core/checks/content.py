"""What the address says: lure words in the site name and path, brand names on foreign sites,
the shapes of phishing-kit pages, and e-mail addresses carried in the link.

Each signal here is weak alone (legitimate mail links to ``/login`` all the time); together they
describe how phishing URLs are built — a credential page (``/secure/login.php``) on a site that
is not the brand it names, personalised with the victim's address (``#alice@example.com``).
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import datetime
from urllib.parse import unquote

import ahocorasick

from linkguard.core.brands import BrandIndex
from linkguard.core.memo import Memo
from linkguard.core.model import Facts, LinkContext, Signal
from linkguard.core.url import HostKind, ParsedUrl

_WORD = re.compile(r"[a-z]+")
_EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}", re.IGNORECASE)
# A host name standing alone between path delimiters ("/ib.paypal.com/", "?u=paypal.com").
# Matched piece by piece with fullmatch: an unanchored search over "a.a.a.a…" is quadratic,
# and a hostile 8 KB path must not cost a second per click.
_PATH_PIECES = re.compile(r"[/?=&#:]+")
_PATH_SEGMENTS = re.compile(r"[/?&=#._-]+")
_HOST_PIECE = re.compile(r"(?:[a-z0-9-]+\.)+(?:com|net|org|co\.uk|com\.au|de|fr|it|es|ca|jp|io|"
                         r"gov|edu)", re.IGNORECASE)
# A page script named for signing in or verifying, as kits name them (login.php,
# verify.html, signin.aspx); ``cmd=login_submit`` and ``$hash`` placeholders are kit tells.
_KIT_PAGE = re.compile(
    r"/(?:log-?in|sign-?in|logon|verif\w*|auth\w*|secure\w*|account\w*|update\w*|confirm\w*|"
    r"webscr|validat\w*|unlock\w*|recover\w*|billing\w*|payment\w*)\.(?:php|html?|aspx?)"
    r"(?:$|[?#])", re.IGNORECASE)
# (An address in the query is not one of them: newsletters' unsubscribe and preference links
# carry ``?email=`` too. It is url.embedded_email, which needs another sign to warn.)
_KIT_QUERY = re.compile(r"cmd=(?:3d)?login_submit|session(?:id)?=\$|securessl=",
                        re.IGNORECASE)
# Compromised CMS installs are the most common phishing host after free platforms: a page
# (not an image or a document) served from a CMS's internal directories.
_CMS_INTERNALS = re.compile(r"/(?:wp-(?:content|includes|admin)|wp-includes|administrator|"
                            r"cgi-bin|\.well-known)/", re.IGNORECASE)
_CMS_CODE = re.compile(r"/wp-(?:content|includes)/", re.IGNORECASE)
# A folder whose name starts with a dot is hidden from directory listings and file managers:
# kits hide there ("/.tmb/", "/.logs/"). ".well-known" is the one such folder sites publish
# (RFC 8615), and it is read by programs, not people.
_HIDDEN_DIRECTORY = re.compile(r"/\.(?!well-known/)[a-z0-9_-]+/", re.IGNORECASE)
_STATIC_FILE = re.compile(r"\.(?:jpe?g|png|gif|webp|svg|ico|css|js|pdf|docx?|xlsx?|pptx?|zip|"
                          r"mp[34]|woff2?|ttf)$", re.IGNORECASE)

# Path words that mean "give us your credentials or payment details".
PATH_LURES = frozenset({
    "login", "signin", "logon", "verify", "verification", "validate", "account", "accounts",
    "secure", "security", "update", "confirm", "webscr", "auth", "authenticate", "password",
    "unlock", "suspended", "billing", "recovery", "restore", "wallet", "banking", "credential",
    "credentials", "authorize", "session", "customer", "invoice", "payment", "payee",
})


# Path words of pages that take a password or payment details (not merely "security" or
# "update", which name package archives and support pages as often).
CREDENTIAL_WORDS = frozenset({
    "login", "signin", "logon", "password", "passwd", "passcode", "verify", "verification",
    "authenticate", "credential", "credentials", "webscr", "banking", "billing", "payment",
    "wallet", "account", "accounts", "unlock", "validate",
})

# Lure words that, alone in a site name, still say "sign in" or "pay" (the rest of the lure list
# names services, shops and documents as often as it names a trap).
HOST_LURES = CREDENTIAL_WORDS | frozenset({
    "secure", "secured", "confirm", "confirmation", "authorize", "authentication", "signon",
    "update", "recovery", "webmail", "payee", "redelivery", "activation", "validation",
    "myaccount", "suspended", "unlocked",
})
# The same for a page's file name, with the words for "sign in", "account" and "payment" in the
# languages of the lure list ("anmeldung.php", "acesso.php", "konto.html"). Words that also name
# documentation pages ("security.html", "support.html", "connect.html") are left out.
ACCOUNT_WORDS = HOST_LURES | frozenset({
    "anmeldung", "konto", "zahlung", "connexion", "compte", "paiement", "acceso", "cuenta",
    "pago", "acesso", "conta", "pagamento", "accesso", "conto", "accedi", "logowanie",
    "platnosc", "inloggen", "identification",
})


class ContentCheck:
    name = "content"

    def __init__(self, brands: BrandIndex, lure_words: frozenset[str]) -> None:
        self.brands = brands
        # Host words are matched inside concatenated labels, so only words long enough not to
        # occur by chance inside ordinary names count.
        self.host_words = word_automaton(w for w in lure_words if len(w) >= 5)
        self.path_words = PATH_LURES | frozenset(w for w in lure_words if len(w) >= 6)
        self._memo: Memo[str, tuple[Signal, ...]] = Memo(100_000)

    def run(self, url: ParsedUrl, context: LinkContext, facts: Facts,
            now: datetime) -> Iterator[Signal]:
        if not url.is_http:
            return
        owner = self.brands.owner_of(url.registrable_domain) if url.registrable_domain else None
        if url.host_kind is HostKind.DOMAIN and owner is None:
            yield from self._host_words(url)
        if url.path == "/" and not url.query and not url.fragment:
            return  # a site's home page: no path to read
        path = unquote(url.path_and_query).lower()
        words = set(_WORD.findall(path))
        lures = sorted(words & self.path_words)
        if lures:
            # One word is what any site's sign-in link has; kits string several together
            # ("/help/Login/identity/signin/myaccount/").
            yield Signal("path.lure", {"words": ",".join(lures[:5])},
                         PATH_LURE_STRENGTH[min(len(lures), 3)])
            asks = sorted(words & CREDENTIAL_WORDS)
            if url.scheme == "http" and asks:
                # A sign-in or payment page without TLS: whatever is typed there travels in
                # the clear, which no real bank or mail provider has allowed for a decade.
                yield Signal("scheme.http_credentials", {"words": ",".join(asks[:5])})
        if owner is None:
            yield from self._brand_in_path(url, path, words)
        yield from self._kit(url, path)
        if owner is None:
            token = _hex_token(url.path, url.query)
            if token:
                yield Signal("url.hash_token", {"token": token[:64]})
        email = ("@" in url.fragment or "@" in url.query or "%40" in url.fragment.lower() or
                 "%40" in url.query.lower()) and (
            _EMAIL.search(unquote(url.fragment)) or _EMAIL.search(unquote(url.query)))
        if email:
            where = "fragment" if url.fragment and email.group(0) in unquote(url.fragment) \
                else "query"
            yield Signal("url.embedded_email", {"where": where},
                         1.0 if where == "fragment" else 0.7)
        elif url.query or url.fragment:
            encoded = _encoded_email(url.query, url.fragment)
            if encoded:
                yield Signal("url.embedded_email", {"where": encoded, "encoding": "base64"},
                             1.0 if encoded == "fragment" else 0.7)

    def _host_words(self, url: ParsedUrl) -> tuple[Signal, ...]:
        found = self._memo.get(url.host)
        if found is None:
            found = self._memo.put(url.host, tuple(self._find_host_words(url)))
        return found

    def _find_host_words(self, url: ParsedUrl) -> Iterator[Signal]:
        text = url.host_unicode if url.subdomain else url.registrable_domain_unicode
        name = text[: -len(url.suffix) - 1] if url.suffix and text.endswith(url.suffix) else text
        found = words_inside(name.lower(), self.host_words)
        if len(found) >= 2:
            yield Signal("domain.lure_words", {"words": ",".join(found[:5])},
                         0.75 if len(found) == 2 else 1.0)
        elif found and not self._names_brand(name.lower()):
            # One word is common in real names too ("securityweek", "onlinesbi"): a weak signal
            # of its own that counts only beside others, and half as much for words that do not
            # ask for a password or a payment ("mobile", "online", "portal" name real shops as
            # often). Beside a brand name the word is the lookalike check's business.
            yield Signal("host.lure_word", {"word": found[0]},
                         1.0 if found[0] in HOST_LURES else 0.5)

    def _names_brand(self, name: str) -> bool:
        """A protected brand's token inside ``name``, also behind look-alike characters
        ("paypa1-login")."""
        return bool(self.brands.find_inside(name) or
                    self.brands.find_inside(self.brands.confusables.skeleton(name)))

    def _brand_in_path(self, url: ParsedUrl, path: str, words: set[str]) -> Iterator[Signal]:
        for piece in _PATH_PIECES.split(path) if "." in path else ():
            if "." not in piece or len(piece) > 253 or not _HOST_PIECE.fullmatch(piece):
                continue
            host = piece.lower()
            for candidate in (host, host.split(".", 1)[-1]):
                brand = self.brands.owner_of(candidate)
                if brand is not None and brand is not self.brands.owner_of(
                        url.registrable_domain):
                    yield Signal("path.brand", {"brand": brand.name, "seen": host}, 1.0)
                    return
        # A brand as a whole path segment ("/dhl/", "/ebay/Login.php") or, for names long enough
        # not to occur by chance, as a word anywhere in the path.
        segments = {seg for seg in _PATH_SEGMENTS.split(path) if seg}
        # The first brand in sorted order: the token table is probed for all words at once.
        named = self.brands.tokens.keys() & (segments | {w for w in words if len(w) >= 5})
        if named:
            word = min(named)
            hit = self.brands.exact(word)
            if hit is not None:
                # With a page of its own under it ("/netflix/index.html", "/dhl/login.php") the
                # brand is the page's subject, as in a kit copied into a brand-named folder.
                page = _PAGE_FILE.search(url.path) is not None and word in segments
                yield Signal("path.brand", {"brand": hit.brand.name, "seen": word},
                             1.0 if page else 0.75)

    def _lure_page(self, path: str) -> bool:
        """A page script named with an account or payment word, in the lure list's languages
        ("/spk/anmeldung.php", "/konto.html", "/ATUALIZE/acesso.php")."""
        match = _PAGE_FILE.search(path)
        if match is None:
            return False
        name = path[path.rfind("/", 0, match.start()) + 1: match.start()].lower()
        return not ACCOUNT_WORDS.isdisjoint(_WORD.findall(name))

    def _kit(self, url: ParsedUrl, path: str) -> Iterator[Signal]:
        shapes = []
        url_path = url.path
        # Each pattern below needs a character most paths lack ("." for a file name, "=" in a
        # query, "/." for a hidden folder): asking for it first spares the regex engine on
        # most links and changes no answer (the patterns' literals, not their letters).
        dotted = "." in url_path
        page = dotted and _PAGE_FILE.search(url_path) is not None
        if page and (_KIT_PAGE.search(url_path.lower() + ("?" if url.query else ""))
                     or self._lure_page(url_path)):
            shapes.append("credential-page")
        if "=" in path and _KIT_QUERY.search(path):
            shapes.append("kit-parameters")
        if not (dotted and _STATIC_FILE.search(url_path)):
            if _CMS_CODE.search(url_path):
                # WordPress serves no page from its code and theme folders: only files.
                shapes.append("cms-code-directory")
            elif _CMS_INTERNALS.search(url_path):
                shapes.append("cms-internals")
        if "/." in url_path and _HIDDEN_DIRECTORY.search(url_path):
            shapes.append("hidden-directory")
        if _padded(url_path) or _padded(url.query):
            # "index.html..........": padding kits add so that a preview or a log line shows
            # only the harmless-looking start of the address.
            shapes.append("padding")
        if _HASH_DIRECTORY.match(url_path) or _hash_directory_inside(url_path):
            shapes.append("per-visit-directory")
        if page:
            if _ASSET_DIRECTORY.search(url_path):
                shapes.append("page-in-asset-directory")
            if _DOUBLE_EXTENSION.search(url_path):
                shapes.append("document-named-page")
        if "%" in url_path and _mixed_letters(unquote(url_path)):  # WHATWG percent-encodes
            shapes.append("mixed-script-path")
        if shapes:
            # Shapes only kits make count fully alone; a login page or a CMS directory is
            # also what many legitimate links look like, so it needs company.
            strength = 1.0 if len(shapes) > 1 or shapes[0] not in _COMMON_SHAPES else 0.8
            yield Signal("path.kit", {"shapes": ",".join(shapes)}, strength)


_PAGE_FILE = re.compile(r"\.(?:php\d?|html?|aspx?|jsp)$", re.IGNORECASE)
_COMMON_SHAPES = frozenset({"credential-page", "cms-internals", "page-in-asset-directory"})
# Kits copy themselves into a fresh directory named by an MD5/SHA1 hex digest for each visitor,
# so every victim gets a different URL and takedowns of one do not stop the others.
_HASH_DIRECTORY = re.compile(r"^/(?:[0-9a-f]{32}|[0-9a-f]{40})/?$")
_PADDING = re.compile(r"\.{6,}|(?:%2e){6,}", re.IGNORECASE)


def _padded(text: str) -> bool:
    """``_PADDING`` in ``text``, asked only where its run of dots or "%" can be."""
    return ("......" in text or "%" in text) and _PADDING.search(text) is not None


# Directories that hold a site's images, styles, scripts and code libraries, not its pages: a
# page script there ("/wp-includes/js/x/index.php", "/images/yah/yah.php",
# "/components/com_user/bbtonline.html") is a kit unpacked into a compromised site wherever its
# uploader could write, the most common way phishing reaches ordinary domains (APWG, Interisle).
_ASSET_DIRECTORY = re.compile(
    r"/(?:images?|img|css|js|fonts?|includes?|inc|plugins?|themes?|vendor|libraries|"
    r"modules?|components?|uploads?|wp-content|wp-includes)/", re.IGNORECASE)
# A document's name in front of a page's extension ("invoice.pdf.html", "scan.doc.php"): a page
# dressed up as the attachment the mail promised.
_DOUBLE_EXTENSION = re.compile(r"\.(?:pdf|docx?|xlsx?|pptx?|rtf|txt|csv|zip|jpe?g|png)"
                               r"\.(?:php\d?|html?|aspx?|jsp)$", re.IGNORECASE)
_HEX_DIGITS = frozenset("0123456789abcdef")
# Strength of path.lure by the number of distinct lure words (1, 2, 3 or more).
PATH_LURE_STRENGTH = {1: 0.5, 2: 0.8, 3: 1.0}
# A run of 16+ hex digits with letters and digits both, standing alone (an MD5/SHA digest or a
# random id): kits and their mailers stamp each victim's link with one ("?id=9a1f…", "/<md5>/").
_HEX_TOKEN = re.compile(r"(?<![0-9a-z])[0-9a-f]{16,}(?![0-9a-z])", re.IGNORECASE)


# Kits also pass the address base64-encoded ("?d2VuZHkucGVh…"), so no '@' shows.
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}")
_EMAIL_BYTES = re.compile(rb"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}",
                          re.IGNORECASE)


def _encoded_email(query: str, fragment: str) -> str | None:
    """Where ("fragment" or "query") a base64-encoded e-mail address sits, if one does."""
    for where, text in (("fragment", fragment), ("query", query)):
        for count, match in enumerate(_BASE64_RUN.finditer(unquote(text[:2048]))):
            if count >= 8:
                break
            token = match.group(0).replace("-", "+").replace("_", "/")
            try:
                raw = base64.b64decode(token + "=" * (-len(token) % 4))
            except (binascii.Error, ValueError):
                continue
            if b"@" in raw and _EMAIL_BYTES.search(raw):
                return where
    return None


def _hex_token(path: str, query: str) -> str | None:
    """The first hex token with both letters and digits in the path or the query."""
    for text in (path, query):
        if len(text) < 16:
            continue
        for match in _HEX_TOKEN.finditer(text[:2048]):
            token = match.group(0)
            if not token.isdigit() and not token.isalpha():
                return token
    return None


def _hash_directory_inside(path: str) -> bool:
    """A directory named by a hex digest somewhere inside the path, leading to a page or a
    folder ("/PDF/65747937d5e8c967ce822962d91a82af/index.pdf.html"): the per-visit copy again,
    nested in a kit's folder. A digest as the file name itself (a download, a commit) is not
    one, and neither is a source file or an asset below it (code hosts put commit hashes in
    paths, CDNs put build hashes)."""
    segments = path.split("/")
    if segments[-1] and not _PAGE_FILE.search(segments[-1]):
        return False
    for segment in segments[1:-1]:
        if 16 <= len(segment) <= 64 and _HEX_DIGITS.issuperset(segment.lower()) and (
                not segment.isdigit() and not segment.isalpha()):
            return True
    return False


def _mixed_letters(path: str) -> bool:
    """Latin words with Greek or Cyrillic letters inside them ("fαilεd"): a filter evasion,
    never the spelling of a real path."""
    for word in re.findall(r"[^\W\d_]{3,}", path):
        if not word.isascii() and any(c.isascii() for c in word):
            names = {unicodedata.name(c, "").split(" ", 1)[0] for c in word if not c.isascii()}
            if names & {"GREEK", "CYRILLIC"}:
                return True
    return False


def word_automaton(words: Iterable[str]) -> ahocorasick.Automaton | None:
    """An Aho–Corasick automaton of ``words`` for :func:`words_inside` (None if none)."""
    automaton = ahocorasick.Automaton()
    for word in words:
        if word:
            automaton.add_word(word, word)
    if not len(automaton):
        return None
    automaton.make_automaton()
    return automaton


def words_inside(text: str, words: ahocorasick.Automaton | None) -> list[str]:
    """Distinct words found inside ``text``, not overlapping, in order of appearance.

    Read left to right: where a word starts, the longest word starting there is taken and
    reading resumes after it; elsewhere it moves on one character (what a regex alternation
    of the words, longest first, finds with ``finditer``). One pass of the automaton finds
    every occurrence, so the cost does not grow with the number of words."""
    if words is None or not text:
        return []
    longest: dict[int, str] = {}
    for end, word in words.iter(text):
        start = end - len(word) + 1
        if len(word) > len(longest.get(start, "")):
            longest[start] = word
    found: dict[str, None] = {}
    position = 0
    for start in sorted(longest):
        if start >= position:
            word = longest[start]
            found[word] = None
            position = start + len(word)
    return list(found)
