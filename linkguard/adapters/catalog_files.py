"""Read the catalog (shipped lists, admin lists, brands, confusables) from files."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import TypeVar

from linkguard.core import catalog as cat
from linkguard.core.catalog import Brand, Catalog, Platform
from linkguard.core.confusables import Confusables, parse_confusables
from linkguard.core.listfile import ListFileError, Problem
from linkguard.core.lists import ListEntry, ListIndex, parse_list_file

T = TypeVar("T")

def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ListFileError([Problem(str(path), 0, "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise ListFileError([Problem(str(path), 0, f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise ListFileError([Problem(str(path), 0, f"cannot read: {exc.strerror}")]) from None


def load_confusables() -> Confusables:
    data = resources.files("linkguard") / "data" / "unicode" / "confusables.txt"
    return parse_confusables(data.read_text(encoding="utf-8"))


def load_list_entries(paths: Iterable[Path]) -> list[ListEntry]:
    """Entries of several admin list files; every problem of every file is collected."""
    entries: list[ListEntry] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            entries.extend(parse_list_file(read_text(path), str(path)))
        except ListFileError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ListFileError(problems)
    return entries


def load_catalog(shipped_dir: Path, *, list_files: Iterable[Path] = (),
                 brand_files: Iterable[Path] = (), own: Brand | None = None) -> Catalog:
    problems: list[Problem] = []

    def attempt(parse: Callable[[str, str], T], path: Path, default: T) -> T:
        try:
            return parse(read_text(path), str(path))
        except ListFileError as exc:
            problems.extend(exc.problems)
            return default

    brands: list[Brand] = []
    for path in (shipped_dir / "brands.yaml", *brand_files):
        brands.extend(attempt(cat.parse_brands, path, []))
    if own is not None:
        brands.insert(0, own)
    no_platforms: list[Platform] = []
    no_words: frozenset[str] = frozenset()
    no_tlds: dict[str, str] = {}
    platforms = attempt(cat.parse_platforms, shipped_dir / "free_hosting.yaml", no_platforms)
    shorteners = attempt(cat.parse_host_lines, shipped_dir / "shorteners.txt", no_words)
    tlds = attempt(cat.parse_tld_lines, shipped_dir / "suspicious_tlds.txt", no_tlds)
    lure = attempt(cat.parse_word_lines, shipped_dir / "lure_words.txt", no_words)
    entries: list[ListEntry] = []
    for path in (shipped_dir / "allow.yaml", shipped_dir / "block.yaml", *list_files):
        entries.extend(attempt(parse_list_file, path, []))
    if problems:
        raise ListFileError(problems)
    return Catalog(brands=brands, platforms=platforms, shorteners=shorteners,
                   suspicious_tlds=tlds, lure_words=lure, lists=ListIndex.build(entries))
