"""The verification's read of the target: where the totals decide (exact mode, or a domain the restore created,
no subset) it keeps only the count and digest, so its memory stays flat however large the target; a snapshot
of every item is taken only to explain a mismatch, or where the totals cannot decide."""

from collections.abc import Callable, Iterator
from typing import Any

from simpledb_backup.formats.dumpformat import DumpTotals, encode_item_line
from simpledb_backup.items import Item, make_item
from simpledb_backup.restore.planning import Subset, TargetSnapshot
from simpledb_backup.restore.prepare import PreparedRestore
from simpledb_backup.restore.stages import VerifyStage
from simpledb_backup.restore.state import RestoreState
from simpledb_backup.restore.target import TargetDomain

ITEMS = [make_item(f"item-{index:03d}", [("n", str(index)), ("kind", "package")]) for index in range(50)]


def totals_of(items: list[Item]) -> DumpTotals:
    totals = DumpTotals()
    for item in items:
        totals.add(item, encode_item_line(item))
    return totals


class ListSource:
    def __init__(self, items: list[Item]) -> None:
        self._items = items

    def items(self) -> Iterator[Item]:
        return iter(self._items)


class TargetHolding(TargetDomain):
    """The target domain as a list of items, recording which kind of read each call was."""

    def __init__(self, items: list[Item]) -> None:
        super().__init__(sdb=None, segments=1)  # type: ignore[arg-type]  # never called: no SimpleDB here
        self.items = items
        self.reads: list[str] = []

    def read(
        self, target: str, subset: Subset, should_stop: Callable[[], bool] = lambda: False
    ) -> TargetSnapshot:
        self.reads.append("snapshot")
        snapshot = TargetSnapshot(subset)
        snapshot.add(self.items)
        return snapshot

    def totals(self, target: str, should_stop: Callable[[], bool] = lambda: False) -> DumpTotals:
        self.reads.append("totals")
        return totals_of(self.items)


def prepared(mode: str, target_created: bool = False, **request: Any) -> PreparedRestore:
    state = RestoreState(
        run_id="restore-20261126T030000Z-0123456789ab",
        request={"action": "restore", "domain": "packages", "mode": mode, **request},
        source={"kind": "dump"},
        target="packages",
        started_at="2026-11-26T03:00:00Z",
        phase="verifying",
        target_created=target_created,
        source_totals=totals_of(ITEMS).to_state(),
    )
    return PreparedRestore(state)


def test_a_target_equal_to_its_source_is_verified_from_its_totals_alone() -> None:
    target = TargetHolding(list(ITEMS))
    answer = VerifyStage(target).run(prepared("exact"), ListSource(ITEMS))
    assert answer == {"verified": True, "mismatches": 0, "sample": []}
    assert target.reads == ["totals"]  # no fingerprint of any item was held


def test_a_created_domain_is_verified_from_its_totals_alone_in_merge_mode_too() -> None:
    target = TargetHolding(list(ITEMS))
    answer = VerifyStage(target).run(prepared("merge", target_created=True), ListSource(ITEMS))
    assert answer is not None
    assert answer["verified"] is True
    assert target.reads == ["totals"]


def test_a_mismatch_is_explained_item_by_item() -> None:
    changed = make_item("item-007", [("n", "changed"), ("kind", "package")])
    target = TargetHolding([changed if item.name == "item-007" else item for item in ITEMS])
    answer = VerifyStage(target).run(prepared("exact"), ListSource(ITEMS))
    assert answer is not None
    assert (answer["verified"], answer["mismatches"], answer["sample"]) == (False, 1, ["item-007"])
    assert target.reads == ["totals", "snapshot"]


def test_where_the_totals_cannot_decide_the_target_is_compared_item_by_item() -> None:
    extra = make_item(
        "zz-kept", [("n", "kept")]
    )  # merge mode into an existing domain keeps what the dump lacks
    target = TargetHolding([*ITEMS, extra])
    answer = VerifyStage(target).run(prepared("merge"), ListSource(ITEMS))
    assert answer is not None
    assert answer["verified"] is True
    assert target.reads == ["snapshot"]
