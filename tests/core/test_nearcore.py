"""The compiled deletion probe (``_nearcore.pyx``) against the Python it stands in for.

``BrandIndex._typo`` asks ``KeyTable.near`` which of a name and its one-character deletions
may be keys of the deletion index, and ``KeyTable.pairs`` which two-character cuts may be long
names; the plain build makes every variant as a string and probes a set. The table holds
hashes, so it may answer "maybe" for a string that is not a key (the caller looks each one up
in the index), but it must never leave out one that is: the tests below hold it to exactly the
keys on generated names, and hold the whole typo lookup to the plain build's answers.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkguard.adapters.catalog_files import load_confusables
from linkguard.core import brands as brands_module
from linkguard.core.brands import BrandIndex, _deletions
from linkguard.core.catalog import Brand

_nearcore = pytest.importorskip(
    "linkguard.core._nearcore", reason="the compiled deletion probe is not built"
)

CONFUSABLES = load_confusables()
# Few letters, so that generated names and their deletions meet often; wide characters too,
# which the table reads in each of CPython's string widths.
names = st.text(alphabet="abcab\u00e9\u0101\U0001f600-", min_size=0, max_size=12)


def python_near(keys: set[str], text: str) -> set[str]:
    return {v for v in (text, *_deletions(text)) if v in keys}


@settings(max_examples=2000, deadline=None)
@given(st.sets(names, max_size=40), names)
def test_near_finds_exactly_the_keys_among_the_deletions(keys: set[str], text: str) -> None:
    table = _nearcore.KeyTable(keys)
    found = table.near(text)
    assert found is not None
    # Every key is found, each distinct string once; with so few keys no hash collides.
    assert len(found) == len(set(found))
    assert set(found) == python_near(keys, text)


@settings(max_examples=2000, deadline=None)
@given(st.sets(names, max_size=40), names)
def test_pairs_in_order_of_the_cut(keys: set[str], text: str) -> None:
    table = _nearcore.KeyTable(keys)
    expected = [text[:i] + text[i + 2:] for i in range(1, len(text) - 1)]
    assert table.pairs(text) == [p for p in expected if p in keys]


def test_table_basics() -> None:
    table = _nearcore.KeyTable(["paypal", "paypl", "", "a"])
    assert len(table) == 4
    assert "paypal" in table
    assert "" in table
    assert "payp" not in table
    assert 42 not in table  # not a string: never a key
    assert table.near("paypal") == ["paypal", "paypl"]
    assert table.near("b") == [""]
    assert table.near("") == [""]
    assert table.near("x" * 257) is None  # longer than the table reads: the caller probes
    assert table.pairs("x" * 257) is None
    assert _nearcore.KeyTable(["a", "a", "a"]).__len__() == 1
    with pytest.raises(TypeError):
        table.near(None)
    with pytest.raises(TypeError):
        table.near(b"paypal")


def test_many_keys_none_lost() -> None:
    rng = random.Random(5)  # noqa: S311 - test data, not secrets
    keys = {"".join(rng.choice("abcdefgh") for _ in range(rng.randint(1, 9)))
            for _ in range(50000)}
    table = _nearcore.KeyTable(keys)
    assert len(table) == len(keys)
    for key in list(keys)[:5000]:
        assert key in table
        assert key in table.near(key)
        assert key in (table.near(key + "z") or [])


def _index(brand_names: list[str]) -> BrandIndex:
    return BrandIndex([Brand(f"B{i}", (name,), (f"{name}.com",))
                       for i, name in enumerate(brand_names)], CONFUSABLES)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="abcdeilmnor01", min_size=3, max_size=11), min_size=1,
                max_size=30, unique=True),
       st.lists(st.text(alphabet="abcdeilmnor01", min_size=0, max_size=14), max_size=20))
def test_typo_lookups_agree_with_the_plain_build(brand_names: list[str],
                                                 labels: list[str]) -> None:
    compiled = _index(brand_names)
    saved = brands_module._nearcore
    brands_module._nearcore = None
    try:
        plain = _index(brand_names)
        expected = [(plain.typo(t), plain.typo(t, skeletons=True)) for t in labels]
    finally:
        brands_module._nearcore = saved
    got = [(compiled.typo(t), compiled.typo(t, skeletons=True)) for t in labels]
    assert got == expected


def test_probes_are_built_with_the_index_not_on_the_first_click() -> None:
    index = _index(["paypal", "microsoft", "netflix"])
    assert set(index._near_tables) == {"plain", "skeleton", "long"}
    assert index._automaton is not None
    assert "paypal" in index._near_tables["plain"]
    assert "microsoft" in index._near_tables["long"]
    # A brand added later drops them; the next lookup builds them again, with the new name.
    index.add(Brand("Zalando", ("zalando",), ("zalando.de",)))
    assert not index._near_tables
    hit = index.typo("zalanod")
    assert hit is not None
    assert hit.token == "zalando"  # noqa: S105  # a brand token, not a password
