"""A subset dump's where clause read as a planning Subset, for the forms that a Subset expresses exactly."""

import pytest

from simpledb_backup.items import make_item
from simpledb_backup.restore.planning import Subset
from simpledb_backup.restore.whereclause import subset_from_where


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("`distribution` = 'stable'", Subset.of(match={"distribution": "stable"})),
        ('distribution = "stable"', Subset.of(match={"distribution": "stable"})),
        (
            "(`distribution` = 'stable') AND (component = 'main')",
            Subset.of(match={"distribution": "stable", "component": "main"}),
        ),
        ("`it``s` = 'O''Brien'", Subset.of(match={"it`s": "O'Brien"})),
        ("itemName() = 'meta'", Subset.of(item_names=["meta"])),
        (
            "itemname ( ) in ('a', 'b', 'c') and itemName() in ('b', 'c', 'd') and `x` = '1'",
            Subset.of(item_names=["b", "c"], match={"x": "1"}),
        ),
        ("  ((`a` = '1'))  ", Subset.of(match={"a": "1"})),
    ],
)
def test_supported_clauses_become_the_same_subset(where: str, expected: Subset) -> None:
    assert subset_from_where(where) == expected


@pytest.mark.parametrize(
    "where",
    [
        "`distribution` = 'stable' or `distribution` = 'testing'",
        "not `a` = '1'",
        "`version` like '1.%'",
        "`size` > '100'",
        "`a` = '1' and `a` = '2'",  # one value per attribute in a Subset
        "every(`a`) = '1'",
        "`a` is null",
        "`a` in ('1', '2')",
        "`a` = '1' intersection `b` = '2'",
        "and = '1'",  # a reserved word as a plain name
        "`a` = '1' and",
        "(`a` = '1'",
        "`a` = 'unterminated",
        "`a` = '1' order by `a`",
        "",
    ],
)
def test_anything_else_is_not_evaluated(where: str) -> None:
    assert subset_from_where(where) is None


def test_the_subset_selects_as_select_does_on_multi_valued_attributes() -> None:
    subset = subset_from_where("`distribution` = 'stable' and itemName() in ('a', 'b')")
    assert subset is not None
    assert subset.selects(make_item("a", [("distribution", "stable"), ("distribution", "testing")]))
    assert not subset.selects(make_item("a", [("distribution", "testing")]))
    assert not subset.selects(make_item("c", [("distribution", "stable")]))
