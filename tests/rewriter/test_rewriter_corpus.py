"""The public sample corpus (~200 real messages from mail-parser test suites), read in place."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.rewriter.rewriter_testkit import CORPUS, eml_files, rewrite_and_check

pytestmark = pytest.mark.data

_FILES = eml_files(CORPUS) if CORPUS.is_dir() else []
_SKIP = f"sample corpus not found at {CORPUS} (public data of ../shared/data/emails)"


@pytest.mark.skipif(not _FILES, reason=_SKIP)
@pytest.mark.parametrize("path", _FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_message(path: Path) -> None:
    rewrite_and_check(path.read_bytes(), decline_every=7)


@pytest.mark.skipif(not _FILES, reason=_SKIP)
def test_corpus_outcomes() -> None:
    """Most of the corpus is rewritten; what passes through does so for a stated reason."""
    outcomes: Counter[str] = Counter()
    for path in _FILES:
        _, report = rewrite_and_check(path.read_bytes())
        outcomes[report.passthrough or "rewritten"] += 1
    assert outcomes["rewritten"] >= 0.9 * len(_FILES)
    assert "internal.error" not in outcomes
