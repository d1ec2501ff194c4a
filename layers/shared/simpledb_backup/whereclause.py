"""A subset dump's where clause as a Subset the planner can evaluate, when it is of a form this module reads.

An exact-mode restore of a subset dump must delete extra items only inside the subset: the planner has to tell,
for every target item, whether the subset's where clause selects it. Rather than evaluate any Select
expression, this reads the forms that a Subset (planning.py) expresses exactly with SimpleDB's own meaning:

* ``attribute = 'value'`` (true when any of the attribute's values equals it, as Select's ``=`` on a
  multi-valued attribute), each attribute at most once;
* ``itemName() = 'name'`` and ``itemName() in ('a', 'b', ...)``;
* these joined by ``and``, with parentheses around any part.

Names may be plain or in backticks, values in single or double quotes, with Select's quoting rules (a quote
doubled inside; Developer Guide, "Select Quoting Rules"); keywords in any case. Anything else (``or``,
``not``, ``like``, ``<``, ``every()``, ...) gives None, and the caller refuses what needs an exact answer.
"""

import re
from dataclasses import dataclass

from simpledb_backup.planning import Subset

#: What the message of a refusal tells the operator this module can evaluate.
SUPPORTED_FORMS = "`attribute` = 'value' and itemName() = 'name' / itemName() in ('a', ...), joined by 'and'"

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<itemname>itemname\s*\(\s*\))
      | (?P<quoted_name>`(?:[^`]|``)*`)
      | (?P<single>'(?:[^']|'')*')
      | (?P<double>"(?:[^"]|"")*")
      | (?P<word>[A-Za-z_$][A-Za-z0-9_$]*)
      | (?P<symbol>[=(),])
    )""",
    re.VERBOSE | re.IGNORECASE,
)
# Select's reserved words cannot be plain attribute names ("Select Quoting Rules").
_RESERVED = frozenset(
    {"or", "and", "not", "from", "where", "select", "like", "null", "is", "order", "by", "asc", "desc", "in"}
    | {"between", "intersection", "limit", "every"}
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


class _UnsupportedError(Exception):
    """The clause is not of a supported form (or not valid Select at all)."""


def _tokens(where: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(where):
        if not where[position:].strip():
            break
        match = _TOKEN.match(where, position)
        if match is None or match.lastgroup is None:
            raise _UnsupportedError
        tokens.append(_Token(match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    return tokens


class _Reader:
    """A recursive-descent reader of ``conjunction := atom ('and' atom)*``."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens, self.position = tokens, 0
        self.names: frozenset[str] | None = None
        self.match: dict[str, str] = {}

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, kind: str, text: str | None = None) -> _Token:
        token = self.peek()
        if token is None or token.kind != kind or (text is not None and token.text.lower() != text):
            raise _UnsupportedError
        self.position += 1
        return token

    def is_next(self, kind: str, text: str) -> bool:
        """The next token is of ``kind`` and, unless ``text`` is empty, reads ``text`` in any case."""
        token = self.peek()
        return token is not None and token.kind == kind and (not text or token.text.lower() == text)

    def conjunction(self) -> None:
        self.atom()
        while self.is_next("word", "and"):
            self.take("word", "and")
            self.atom()

    def atom(self) -> None:
        if self.is_next("symbol", "("):
            self.take("symbol", "(")
            self.conjunction()
            self.take("symbol", ")")
        elif self.is_next("itemname", ""):
            self.take("itemname")
            self.item_names()
        else:
            self.attribute_equals()

    def item_names(self) -> None:
        if self.is_next("word", "in"):
            self.take("word", "in")
            self.take("symbol", "(")
            names = {self.value()}
            while self.is_next("symbol", ","):
                self.take("symbol", ",")
                names.add(self.value())
            self.take("symbol", ")")
        else:
            self.take("symbol", "=")
            names = {self.value()}
        # Two itemName() tests joined by 'and' select the names both allow.
        self.names = frozenset(names) if self.names is None else self.names & names

    def attribute_equals(self) -> None:
        token = self.peek()
        if token is None:
            raise _UnsupportedError
        if token.kind == "quoted_name":
            name = token.text[1:-1].replace("``", "`")
        elif token.kind == "word" and token.text.lower() not in _RESERVED:
            name = token.text
        else:
            raise _UnsupportedError
        self.position += 1
        self.take("symbol", "=")
        if name in self.match:
            raise _UnsupportedError  # a Subset holds one value per attribute
        self.match[name] = self.value()

    def value(self) -> str:
        token = self.peek()
        if token is None or token.kind not in ("single", "double"):
            raise _UnsupportedError
        self.position += 1
        quote = token.text[0]
        return token.text[1:-1].replace(quote * 2, quote)


def subset_from_where(where: str) -> Subset | None:
    """The Subset that selects exactly the items ``where`` selects, or None when the clause is not of a
    supported form (SUPPORTED_FORMS)."""
    try:
        reader = _Reader(_tokens(where))
        reader.conjunction()
        if reader.peek() is not None:
            raise _UnsupportedError
    except _UnsupportedError:
        return None
    return Subset.of(reader.names, reader.match)
