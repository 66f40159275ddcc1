"""The documented reason vocabulary matches the code, so admins can rely on the docs."""

from __future__ import annotations

import re
from pathlib import Path

from linkguard.core.policy import DEFAULT_WEIGHTS
from linkguard.core.reasons import REASONS

ROOT = Path(__file__).resolve().parent.parent


def test_reasons_doc_lists_every_code_with_its_weight() -> None:
    text = (ROOT / "docs" / "reasons.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z_.]+)` \| ([0-9.]+) \|", text, re.MULTILINE))
    assert set(rows) == set(REASONS)
    for code, weight in rows.items():
        assert float(weight) == DEFAULT_WEIGHTS[code], code


def test_readme_quickstart_is_the_two_make_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Quickstart", 1)[1].split("```", 2)[1]
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines()[1:] if line.strip()]
    assert commands == ["make run", "make test"]
