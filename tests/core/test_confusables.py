"""UTS #39 skeletons from the shipped confusables data, plus the host-name extras."""

from __future__ import annotations

import pytest

from linkguard.adapters.catalog_files import load_confusables
from linkguard.core.confusables import ConfusablesError, parse_confusables

CONFUSABLES = load_confusables()


def test_shipped_data_has_a_version() -> None:
    assert CONFUSABLES.version == "13.0.0"
    assert len(CONFUSABLES.prototypes) > 6000


@pytest.mark.parametrize(("a", "b"), [
    ("paypal", "pаypal"),  # Cyrillic а
    ("paypal", "paypa1"),  # digit one
    ("google", "g00gle"),  # digit zero
    ("microsoft", "rnicrosoft"),  # rn
    ("wells", "vvells"),  # vv (an extra beyond UTS #39)
    ("adobe", "acobe".replace("c", "cl")),  # cl for d (an extra)
    ("paypal", "pàypal"),  # combining marks dropped
    ("apple", "ɑpple"),  # Latin alpha
    ("amazon", "аmаzоn"),  # Cyrillic а and о
])
def test_confusable_pairs_share_a_skeleton(a: str, b: str) -> None:
    assert CONFUSABLES.skeleton(a) == CONFUSABLES.skeleton(b)


@pytest.mark.parametrize(("a", "b"), [("paypal", "paypai"), ("apple", "appel"),
                                      ("bank", "bonk")])
def test_different_words_differ(a: str, b: str) -> None:
    assert CONFUSABLES.skeleton(a) != CONFUSABLES.skeleton(b)


def test_parser_reads_the_format_and_rejects_garbage() -> None:
    table = parse_confusables("# Version: 99.0\n0061 ;\t0062 ;\tMA\t# a → b\n")
    assert table.version == "99.0"
    assert table.skeleton("a") == "b"
    with pytest.raises(ConfusablesError, match="line 1"):
        parse_confusables("zz ; 0062 ; MA\n")
    with pytest.raises(ConfusablesError, match="no mappings"):
        parse_confusables("# empty\n")
