"""A SimpleDB stand-in for the scan's unit tests: Select over a sorted list of names, as the engine pages it
(ascending or descending, ``itemName()`` ranges, NextTokens bound to their query), counting every call; its
pages hold ``page_items`` items. Passed to the scan as its SimpleDB collaborator."""

import bisect
import re
import threading

from simpledb_backup.capacity import DomainSize
from simpledb_backup.errors import NextTokenRefusedError
from simpledb_backup.items import Item

_BOUND = r"'((?:[^']|'')*)'"


def _bound(pattern: str, expression: str) -> str | None:
    found = re.search(pattern + _BOUND, expression)
    return found.group(1).replace("''", "'") if found else None


class FakeSelect:
    def __init__(self, names: list[str], page_items: int = 10, refuse_tokens: int = 0) -> None:
        self.names = sorted(names)
        self.page_items = page_items
        self.calls = 0
        self.fresh_calls = 0  # calls without a NextToken: a query started (or restarted)
        self.refuse_tokens = refuse_tokens
        self._lock = threading.Lock()

    def domain_metadata(self, domain: str) -> DomainSize:
        # Pages of ``page_items`` items of about 1 MB / page_items each: the estimate finds as many pages.
        count = len(self.names)
        per_item = 1024 * 1024 // self.page_items
        return DomainSize(count, 1, count, count * 20, 1, count * (per_item - 20 - 95))

    def select_page(self, domain: str, expression: str, token: str | None) -> tuple[list[Item], str | None]:
        with self._lock:
            self.calls += 1
            self.fresh_calls += token is None
            if token is not None and self.refuse_tokens:
                self.refuse_tokens -= 1
                raise NextTokenRefusedError("expired")
        after, lower, upper = (
            _bound(r"itemName\(\) > ", expression),
            _bound(r"itemName\(\) >= ", expression),
            _bound(r"itemName\(\) < ", expression),
        )
        start = bisect.bisect_right(self.names, after) if after is not None else 0
        if lower is not None:
            start = bisect.bisect_left(self.names, lower)
        end = bisect.bisect_left(self.names, upper) if upper is not None else len(self.names)
        matching = self.names[start:end]
        if " desc " in expression:
            matching.reverse()
        position = 0
        if token is not None:
            query, _, at = token.rpartition("|")
            assert query == expression, "a NextToken belongs to the query that returned it"
            position = int(at)
        page = matching[position : position + self.page_items]
        following = position + len(page)
        next_token = f"{expression}|{following}" if following < len(matching) else None
        return [Item(name, {"n": (name[-3:],)}) for name in page], next_token
