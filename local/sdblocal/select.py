"""The Select language in the engine: validation, evaluation and paging.

The grammar is the product's (``simpledb_backup.selectgrammar``, in the layer): one grammar for the
engine that answers Selects and for the backup that checks a subset's ``where`` clause. This module
turns lark's tree into the engine's syntax tree, checks SimpleDB's limits and runs the query.

Every comparison is lexicographic and case-sensitive: code point order (= UTF-8 byte order), or UTF-16
code unit order when a page's :class:`PageShape` asks for it (the ``utf16_order`` control).

Multi-valued attributes: a *predicate* is a group of comparisons on one attribute joined with
and/or/not; it matches when one single value satisfies the whole group (so ``Year > '1975' and
Year < '2008'`` is a range on one value, and ``Keyword = 'Book' and Keyword = 'Hardcover'``
matches nothing: that is what ``intersection`` is for). Items without the attribute never match a
predicate on it. ``every(a)`` requires every value of ``a`` to satisfy the comparison.

Limits ("Limits"): 20 comparisons per expression (InvalidNumberValueTests: SimpleDB calls each
comparison a "value test"), 20 unique attribute names in the where clause (InvalidNumberPredicates:
a predicate is per attribute), 256 requested attributes (TooManyRequestedAttributes), ``limit`` 1 to
2500 with a default of 100 (count(*) is not bound by either), and 1 MB per response.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import Final, Literal

from lark import Token, Transformer, v_args
from lark.exceptions import LarkError, VisitError

from simpledb_backup.selectgrammar import (
    MAX_COMPARISONS,
    MAX_PREDICATE_ATTRIBUTES,
    RESERVED_WORDS,
    SELECT_START,
    select_parser,
)

from . import errors
from .model import Domain, Item, decode_token, encode_token, utf16_key
from .xmltext import item_xml, wire_size

DEFAULT_LIMIT = 100
MAX_LIMIT = 2500
MAX_REQUESTED_ATTRIBUTES = 256
# "Operations that run longer than 5 seconds return a time-out error response or a partial or
# empty result set" (Select): a page stops after this long, with a NextToken. The clock is read
# every _CLOCK_EVERY items.
QUERY_TIME_LIMIT_S = 5.0
_CLOCK_EVERY = 256
# Bytes of <Item> elements one page may carry: 1 MB less room for the envelope and the NextToken.
MAX_PAGE_BYTES = 1024 * 1024 - 4096

_PARSER = select_parser()
# Parses are cached (``parse``) and take well under a millisecond; a lock keeps the shared parser
# safe for the threaded server without relying on lark's thread-safety.
_PARSER_LOCK = threading.Lock()


# --- syntax tree ---------------------------------------------------------------------------------

OperandKind = Literal["attr", "itemname", "every"]
OutputKind = Literal["all", "itemname", "count", "attrs"]


@dataclass(frozen=True, slots=True)
class Operand:
    kind: OperandKind
    name: str = ""  # the attribute name; "" for itemName()


@dataclass(frozen=True, slots=True)
class Comparison:
    operand: Operand
    op: str  # = != > >= < <= like, not like, between, in, is null, is not null
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: Literal["and", "or", "intersection"]
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


Node = Comparison | BoolOp | Not


@dataclass(frozen=True, slots=True)
class Query:
    output: OutputKind
    attributes: tuple[str, ...]
    domain: str
    where: Node | None
    order_by: Operand | None
    descending: bool
    limit: int | None

    def digest(self) -> str:
        """What a NextToken is bound to: domain, where and order by (count(*) and select tokens are
        interchangeable when those match, per the Developer Guide's "Count" page)."""
        key = repr((self.domain, self.where, self.order_by, self.descending))
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class SelectOutcome:
    names: list[str]  # the items' names, in page order
    next_token: str | None
    fragments: list[str]  # each item's <Item> element, as measured against the 1 MB cap


def _count_outcome(count: int, token: str | None) -> SelectOutcome:
    return SelectOutcome(["Domain"], token, [item_xml("Domain", [("Count", str(count))])])


# --- parsing -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Output:
    kind: OutputKind
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Where:
    node: Node


@dataclass(frozen=True, slots=True)
class _Order:
    target: Operand
    descending: bool


@dataclass(frozen=True, slots=True)
class _Limit:
    value: int


def _unquote(text: str, quote: str) -> str:
    return text[1:-1].replace(quote + quote, quote)


@v_args(inline=True)
class _ToAst(Transformer[Token, Query]):
    def plain_name(self, token: Token) -> str:
        if token.lower() in RESERVED_WORDS:
            raise errors.invalid_query_expression(f"Reserved word {token!s} must be quoted with backticks.")
        return str(token)

    def quoted_name(self, token: Token) -> str:
        return _unquote(str(token), "`")

    def value(self, token: Token) -> str:
        return _unquote(str(token), str(token)[0])

    def attr_operand(self, name: str) -> Operand:
        return Operand("attr", name)

    def itemname_operand(self, _token: Token) -> Operand:
        return Operand("itemname")

    def every_operand(self, name: str) -> Operand:
        return Operand("every", name)

    def compare(self, operand: Operand, op: Token, value: str) -> Comparison:
        return Comparison(operand, str(op), (value,))

    def like(self, operand: Operand, value: str) -> Comparison:
        return Comparison(operand, "like", (value,))

    def not_like(self, operand: Operand, value: str) -> Comparison:
        return Comparison(operand, "not like", (value,))

    def between(self, operand: Operand, low: str, high: str) -> Comparison:
        return Comparison(operand, "between", (low, high))

    def in_(self, operand: Operand, *values: str) -> Comparison:
        return Comparison(operand, "in", tuple(values))

    def is_null(self, operand: Operand) -> Comparison:
        return Comparison(operand, "is null")

    def is_not_null(self, operand: Operand) -> Comparison:
        return Comparison(operand, "is not null")

    def and_(self, left: Node, right: Node) -> Node:
        return BoolOp("and", left, right)

    def or_(self, left: Node, right: Node) -> Node:
        return BoolOp("or", left, right)

    def intersection(self, left: Node, right: Node) -> Node:
        return BoolOp("intersection", left, right)

    def not_(self, child: Node) -> Node:
        return Not(child)

    def out_all(self) -> _Output:
        return _Output("all")

    def out_itemname(self, _token: Token) -> _Output:
        return _Output("itemname")

    def out_count(self, _token: Token) -> _Output:
        return _Output("count")

    def out_attrs(self, *names: str) -> _Output:
        return _Output("attrs", tuple(names))

    def where_clause(self, node: Node) -> _Where:
        return _Where(node)

    def sort_attr(self, name: str) -> Operand:
        return Operand("attr", name)

    def sort_itemname(self, _token: Token) -> Operand:
        return Operand("itemname")

    def order_clause(self, target: Operand, direction: Token | None = None) -> _Order:
        return _Order(target, direction is not None and direction.lower() == "desc")

    def limit_clause(self, token: Token) -> _Limit:
        return _Limit(int(token))

    def start(self, output: _Output, domain: str, *clauses: _Where | _Order | _Limit) -> Query:
        where = next((c.node for c in clauses if isinstance(c, _Where)), None)
        order = next((c for c in clauses if isinstance(c, _Order)), None)
        limit = next((c.value for c in clauses if isinstance(c, _Limit)), None)
        return Query(
            output.kind,
            output.attributes,
            domain,
            where,
            order.target if order else None,
            order.descending if order else False,
            limit,
        )


@lru_cache(maxsize=4096)
def parse(expression: str) -> Query:
    """Parse and validate a select expression; SdbError for anything SimpleDB would refuse."""
    try:
        with _PARSER_LOCK:
            tree = _PARSER.parse(expression, start=SELECT_START)
        query = _ToAst().transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, errors.SdbError):
            raise exc.orig_exc from None
        raise errors.invalid_query_expression() from exc
    except (LarkError, RecursionError) as exc:  # RecursionError: parentheses nested too deep to walk
        raise errors.invalid_query_expression() from exc
    _validate(query)
    return query


def _comparisons(node: Node | None) -> Iterator[Comparison]:
    if node is None:
        return
    if isinstance(node, Comparison):
        yield node
    elif isinstance(node, Not):
        yield from _comparisons(node.child)
    else:
        yield from chain(_comparisons(node.left), _comparisons(node.right))


def _validate(query: Query) -> None:
    comparisons = list(_comparisons(query.where))
    if len(comparisons) > MAX_COMPARISONS:
        raise errors.invalid_number_value_tests()
    if len({c.operand.name for c in comparisons if c.operand.kind != "itemname"}) > MAX_PREDICATE_ATTRIBUTES:
        raise errors.invalid_number_predicates()
    if len(query.attributes) > MAX_REQUESTED_ATTRIBUTES:
        raise errors.too_many_requested_attributes()
    if query.limit is not None:
        maximum = None if query.output == "count" else MAX_LIMIT
        if query.limit < 1 or (maximum is not None and query.limit > maximum):
            raise errors.invalid_parameter(
                f"Value ({query.limit}) for parameter Limit is invalid. Limit must be between 1 and {MAX_LIMIT}."
            )
    if query.order_by is not None and query.order_by.kind == "attr":
        # "The sort attribute must be present in at least one of the predicates of the expression"
        # and, since results must carry it, that predicate may not be `is null` ("Sort").
        constrained = {
            c.operand.name for c in comparisons if c.operand.kind != "itemname" and c.op != "is null"
        }
        if query.order_by.name not in constrained:
            raise errors.invalid_sort_expression()


# --- evaluation ----------------------------------------------------------------------------------

ValueTest = Callable[[str], bool]
ItemTest = Callable[[Item], bool]


def _like(pattern: str) -> re.Pattern[str]:
    # `%` is the only wildcard; it may appear at the start, the end, or both.
    return re.compile(".*".join(re.escape(part) for part in pattern.split("%")), re.DOTALL)


_ORDERED = frozenset({">", ">=", "<", "<=", "between"})


def _order_test[K: (str, bytes)](op: str, bounds: tuple[K, ...]) -> Callable[[K], bool]:
    """The comparisons that depend on the collation, on text or on its UTF-16 keys alike."""
    match op:
        case ">":
            return lambda v: v > bounds[0]
        case ">=":
            return lambda v: v >= bounds[0]
        case "<":
            return lambda v: v < bounds[0]
        case "<=":
            return lambda v: v <= bounds[0]
        case "between":
            return lambda v: bounds[0] <= v <= bounds[1]
    raise AssertionError(op)  # pragma: no cover


def _value_test(comparison: Comparison, utf16: bool = False) -> ValueTest:
    op, values = comparison.op, comparison.values
    if op in _ORDERED:
        if not utf16:
            return _order_test(op, values)
        keyed = _order_test(op, tuple(utf16_key(v) for v in values))
        return lambda v: keyed(utf16_key(v))
    match op:
        case "=":
            return lambda v: v == values[0]
        case "!=":
            return lambda v: v != values[0]
        case "like":
            regex = _like(values[0])
            return lambda v: regex.fullmatch(v) is not None
        case "not like":
            regex = _like(values[0])
            return lambda v: regex.fullmatch(v) is None
        case "in":
            members = frozenset(values)
            return lambda v: v in members
    raise AssertionError(op)  # pragma: no cover


def _single_attribute(node: Node) -> str | None:
    """The attribute a subtree is a value-level predicate on, or None if it is not one."""
    if isinstance(node, Comparison):
        plain = node.operand.kind == "attr" and node.op not in ("is null", "is not null")
        return node.operand.name if plain else None
    if isinstance(node, Not):
        return _single_attribute(node.child)
    if node.op == "intersection":
        return None  # intersection always combines item sets
    left, right = _single_attribute(node.left), _single_attribute(node.right)
    return left if left is not None and left == right else None


def _compile_values(node: Node, utf16: bool) -> ValueTest:
    if isinstance(node, Comparison):
        return _value_test(node, utf16)
    if isinstance(node, Not):
        inner = _compile_values(node.child, utf16)
        return lambda v: not inner(v)
    left, right = _compile_values(node.left, utf16), _compile_values(node.right, utf16)
    if node.op == "or":
        return lambda v: left(v) or right(v)
    return lambda v: left(v) and right(v)


def compile_predicate(node: Node | None, utf16: bool = False) -> ItemTest:
    """The where clause as a test of one item; ``utf16``: order comparisons in UTF-16 code units."""
    if node is None:
        return lambda item: True
    attribute = _single_attribute(node)
    if attribute is not None:
        test = _compile_values(node, utf16)
        return lambda item: any(test(v) for v in item.values(attribute))
    if isinstance(node, Comparison):
        return _compile_item_comparison(node, utf16)
    if isinstance(node, Not):
        inner = compile_predicate(node.child, utf16)
        return lambda item: not inner(item)
    left, right = compile_predicate(node.left, utf16), compile_predicate(node.right, utf16)
    if node.op == "or":
        return lambda item: left(item) or right(item)
    return lambda item: left(item) and right(item)


def _compile_item_comparison(node: Comparison, utf16: bool) -> ItemTest:
    kind, name = node.operand.kind, node.operand.name
    if node.op == "is null":
        return (lambda item: False) if kind == "itemname" else (lambda item: not item.values(name))
    if node.op == "is not null":
        return (lambda item: True) if kind == "itemname" else (lambda item: bool(item.values(name)))
    test = _value_test(node, utf16)
    if kind == "itemname":
        return lambda item: test(item.name)
    if kind == "every":

        def every(item: Item) -> bool:
            values = item.values(name)
            return bool(values) and all(test(v) for v in values)

        return every
    return lambda item: any(test(v) for v in item.values(name))  # pragma: no cover


# --- planning: item-name ranges ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NameRange:
    """Bounds on itemName() implied by the where clause; None = unbounded. Always a superset."""

    low: str | None = None
    low_inclusive: bool = True
    high: str | None = None
    high_inclusive: bool = True

    def intersect(self, other: NameRange) -> NameRange:
        low, low_inc = self.low, self.low_inclusive
        if other.low is not None and (
            low is None or other.low > low or (other.low == low and not other.low_inclusive)
        ):
            low, low_inc = other.low, other.low_inclusive
        high, high_inc = self.high, self.high_inclusive
        if other.high is not None and (
            high is None or other.high < high or (other.high == high and not other.high_inclusive)
        ):
            high, high_inc = other.high, other.high_inclusive
        return NameRange(low, low_inc, high, high_inc)

    def hull(self, other: NameRange) -> NameRange:
        if self.low is None or other.low is None:
            low, low_inc = None, True
        elif self.low == other.low:
            low, low_inc = self.low, self.low_inclusive or other.low_inclusive
        else:
            low, low_inc = (
                (self.low, self.low_inclusive) if self.low < other.low else (other.low, other.low_inclusive)
            )
        if self.high is None or other.high is None:
            high, high_inc = None, True
        elif self.high == other.high:
            high, high_inc = self.high, self.high_inclusive or other.high_inclusive
        else:
            high, high_inc = (
                (self.high, self.high_inclusive)
                if self.high > other.high
                else (other.high, other.high_inclusive)
            )
        return NameRange(low, low_inc, high, high_inc)


_UNBOUNDED = NameRange()


def _prefix_successor(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix``."""
    stripped = prefix.rstrip("\U0010ffff")
    if not stripped:
        return None
    last = ord(stripped[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:
        last = 0xE000
    return stripped[:-1] + chr(last)


def name_range(node: Node | None) -> NameRange:
    if node is None:
        return _UNBOUNDED
    if isinstance(node, Not):
        return _UNBOUNDED
    if isinstance(node, BoolOp):
        left, right = name_range(node.left), name_range(node.right)
        return left.hull(right) if node.op == "or" else left.intersect(right)
    if node.operand.kind != "itemname":
        return _UNBOUNDED
    values = node.values
    match node.op:
        case "=":
            return NameRange(values[0], True, values[0], True)
        case ">":
            return NameRange(low=values[0], low_inclusive=False)
        case ">=":
            return NameRange(low=values[0])
        case "<":
            return NameRange(high=values[0], high_inclusive=False)
        case "<=":
            return NameRange(high=values[0])
        case "between":
            return NameRange(values[0], True, values[1], True)
        case "in":
            return NameRange(min(values), True, max(values), True)
        case "like" if not values[0].startswith("%"):
            prefix = values[0].split("%", 1)[0]
            return NameRange(prefix, True, _prefix_successor(prefix), False)
    return _UNBOUNDED


# --- execution and paging ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageShape:
    """Freedoms the service takes within its contract, imposed on one page (the engine's test controls).

    * ``max_items``: stop the page after this many items (or counted items), with a NextToken when more
      may follow: a short page, as the 1 MB cap or the time limit cut one;
    * ``empty``: no items (a count of 0) and a NextToken that resumes where this call started;
    * ``utf16``: collate as UTF-16 code units: item-name order, ``order by`` and every ``<``, ``<=``,
      ``>``, ``>=`` and ``between``, so names above U+FFFF come between U+D7FF and U+E000.
    """

    max_items: int | None = None
    empty: bool = False
    utf16: bool = False


PLAIN_PAGE: Final = PageShape()
# Distinguishes the tokens of repeated empty pages, as the service's tokens differ from call to call.
_EMPTY_PAGES = itertools.count(1)


def _sort_key(item: Item, attribute: str, descending: bool, utf16: bool) -> str | None:
    # A multi-valued sort attribute sorts on its smallest value ascending, its largest descending.
    values = item.values(attribute)
    if not values:
        return None
    if utf16:
        return max(values, key=utf16_key) if descending else min(values, key=utf16_key)
    return max(values) if descending else min(values)


Position = tuple[str, str | None]


def _position(token: str | None, query: Query) -> Position | None:
    """Where a NextToken resumes: after (item name, sort value); None from the start."""
    if token is None:
        return None
    try:
        data = json.loads(decode_token(token))
        digest, name, key = data["q"], data["n"], data.get("k")
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.invalid_next_token() from exc
    if digest != query.digest() or not (key is None or isinstance(key, str)):
        raise errors.invalid_next_token()
    if name is None and key is None:
        return None  # an empty first page's token: from the start
    if not isinstance(name, str):
        raise errors.invalid_next_token()
    return name, key


def _token(query: Query, item: Item, key: str | None) -> str:
    return encode_token(json.dumps({"q": query.digest(), "n": item.name, "k": key}))


def _empty_page_token(query: Query, position: Position | None) -> str:
    name, key = position if position is not None else (None, None)
    return encode_token(json.dumps({"q": query.digest(), "n": name, "k": key, "e": next(_EMPTY_PAGES)}))


def _candidates(
    query: Query, domain: Domain, after: Position | None, utf16: bool
) -> Iterator[tuple[Item, str | None, bool]]:
    """Items in result order from just after the NextToken position: (item, sort key, matches).

    Non-matching items are yielded too (flagged False) when the scan is in item-name order, so that
    a query cut short by the time limit can still hand out a token for where it stopped.
    """
    matches = compile_predicate(query.where, utf16)
    order = query.order_by
    if order is None or order.kind == "itemname":
        descending = order is not None and query.descending
        if utf16:  # UTF-16 ranges are not code point ranges: every name after the position, tested
            for item in domain.scan_utf16(after[0] if after is not None else None, descending):
                yield item, None, matches(item)
            return
        bounds = name_range(query.where)
        if after is not None:
            resume = (
                NameRange(high=after[0], high_inclusive=False)
                if descending
                else NameRange(low=after[0], low_inclusive=False)
            )
            bounds = bounds.intersect(resume)
        for item in domain.scan(
            bounds.low, bounds.low_inclusive, bounds.high, bounds.high_inclusive, descending
        ):
            yield item, None, matches(item)
        return
    # Sorting on an attribute needs every match before the first result.
    bounds = _UNBOUNDED if utf16 else name_range(query.where)
    found: list[tuple[str, Item]] = []
    for item in domain.scan(bounds.low, bounds.low_inclusive, bounds.high, bounds.high_inclusive):
        key = _sort_key(item, order.name, query.descending, utf16)
        if key is not None and matches(item):
            found.append((key, item))
    last = (after[1] or "", after[0]) if after is not None else None
    if utf16:
        keyed16 = [(utf16_key(key), utf16_key(item.name), key, item) for key, item in found]
        last16 = (utf16_key(last[0]), utf16_key(last[1])) if last is not None else None
        yield from _sorted_after(keyed16, last16, query.descending)
    else:
        keyed = [(key, item.name, key, item) for key, item in found]
        yield from _sorted_after(keyed, last, query.descending)


def _sorted_after[K: (str, bytes)](
    keyed: list[tuple[K, K, str, Item]], last: tuple[K, K] | None, descending: bool
) -> Iterator[tuple[Item, str | None, bool]]:
    """Items by (collated sort value, collated name), from just after ``last``."""
    keyed.sort(key=lambda entry: (entry[0], entry[1]), reverse=descending)
    for collated_key, collated_name, key, item in keyed:
        if last is not None and (
            (collated_key, collated_name) >= last if descending else (collated_key, collated_name) <= last
        ):
            continue
        yield item, key, True


def _fragment(query: Query, item: Item) -> str:
    """The item's ``<Item>`` element for this query's output list."""
    if query.output == "all":
        xml = item.xml
        if xml is None:
            xml = item.xml = item_xml(item.name, item.pairs())
        return xml
    if query.output == "itemname":
        return item_xml(item.name, [])
    wanted = set(query.attributes)
    return item_xml(item.name, [(n, v) for n, v in item.pairs() if n in wanted])


def execute(
    query: Query, domain: Domain, next_token: str | None, shape: PageShape = PLAIN_PAGE
) -> SelectOutcome:
    """One page of results.

    A page ends at the limit (default 100), before the item that would take the response past
    1 MB, or when the query has run for ``QUERY_TIME_LIMIT_S``: like the service, it then returns
    what it has (possibly nothing) with a NextToken to continue from where it stopped. ``shape``
    imposes the other freedoms the service has (:class:`PageShape`).
    """
    after = _position(next_token, query)
    if shape.empty:
        token = _empty_page_token(query, after)
        return _count_outcome(0, token) if query.output == "count" else SelectOutcome([], token, [])
    deadline = time.monotonic() + QUERY_TIME_LIMIT_S
    scanned: tuple[Item, str | None] | None = None  # the last item looked at: where a cut-off resumes
    candidates = _candidates(query, domain, after, shape.utf16)

    if query.output == "count":
        # count(*): one item named "Domain" with a "Count" attribute. The 100/2500 limits do not
        # apply; a limit clause caps how many items are counted, and the token resumes after them.
        # A count cut off by the time limit is partial: the client adds up the pages ("Count").
        caps = [n for n in (query.limit, shape.max_items) if n is not None]
        cap = min(caps) if caps else None
        count = 0
        for number, (item, key, matched) in enumerate(candidates, 1):
            if matched and cap is not None and count == cap:
                assert scanned is not None
                return _count_outcome(count, _token(query, *scanned))
            if number % _CLOCK_EVERY == 0 and scanned is not None and time.monotonic() > deadline:
                return _count_outcome(count, _token(query, *scanned))
            count += matched
            scanned = (item, key)
        return _count_outcome(count, None)

    limit = query.limit or DEFAULT_LIMIT
    if shape.max_items is not None:
        limit = min(limit, shape.max_items)
    page: list[str] = []
    fragments: list[str] = []
    size = 0
    for number, (item, key, matched) in enumerate(candidates, 1):
        if number % _CLOCK_EVERY == 0 and scanned is not None and time.monotonic() > deadline:
            return SelectOutcome(page, _token(query, *scanned), fragments)
        if not matched:
            scanned = (item, key)
            continue
        fragment = _fragment(query, item)
        item_size = wire_size(fragment)
        if len(page) == limit or (page and size + item_size > MAX_PAGE_BYTES):
            assert scanned is not None
            return SelectOutcome(page, _token(query, *scanned), fragments)
        page.append(item.name)
        fragments.append(fragment)
        size += item_size
        scanned = (item, key)
    return SelectOutcome(page, None, fragments)
