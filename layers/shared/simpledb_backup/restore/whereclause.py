"""A subset dump's where clause as a Subset the planner can evaluate, when it is of a form a Subset expresses.

An exact-mode restore of a subset dump must delete extra items only inside the subset: the planner has to tell,
for every target item, whether the subset's where clause selects it. The clause is parsed with the shared
Select grammar (selectgrammar.py, the one the backup checks it with and the local engine evaluates), and its
syntax tree is read as a Subset (planning.py) when it uses only what a Subset means exactly as Select does:

* ``attribute = 'value'`` (true when any of the attribute's values equals it, as Select's ``=`` on a
  multi-valued attribute), each attribute at most once;
* ``itemName() = 'name'`` and ``itemName() in ('a', 'b', ...)``;
* these joined by ``and``, with parentheses around any part.

Anything else (``or``, ``not``, ``like``, ``<``, ``every()``, ``intersection``, ...) gives None, and the caller
refuses what needs an exact answer.
"""

from lark import Token, Tree

from simpledb_backup.errors import InvalidRequestError
from simpledb_backup.restore.planning import Subset
from simpledb_backup.selectgrammar import parse_where

#: What the message of a refusal tells the operator this module can evaluate.
SUPPORTED_FORMS = "`attribute` = 'value' and itemName() = 'name' / itemName() in ('a', ...), joined by 'and'"


class _UnsupportedError(Exception):
    """The clause uses something a Subset cannot express."""


def _text(tree: Tree[Token]) -> str:
    token = tree.children[0]
    if not isinstance(token, Token):
        raise _UnsupportedError
    return str(token)


def _value(tree: Tree[Token] | Token) -> str:
    """A quoted value as Select reads it: the quote doubled inside stands for one ("Select Quoting Rules")."""
    if not isinstance(tree, Tree) or tree.data != "value":
        raise _UnsupportedError
    quoted = _text(tree)
    return quoted[1:-1].replace(quoted[0] * 2, quoted[0])


def _attribute(operand: Tree[Token] | Token) -> str:
    if not isinstance(operand, Tree) or operand.data != "attr_operand":
        raise _UnsupportedError
    name = operand.children[0]
    if not isinstance(name, Tree):
        raise _UnsupportedError
    if name.data == "quoted_name":
        return _text(name)[1:-1].replace("``", "`")
    return _text(name)


def _is_item_name(operand: Tree[Token] | Token) -> bool:
    return isinstance(operand, Tree) and operand.data == "itemname_operand"


class _SubsetReader:
    """Walks the syntax tree of a conjunction, collecting item names and attribute equalities."""

    def __init__(self) -> None:
        self.names: frozenset[str] | None = None
        self.match: dict[str, str] = {}

    def read(self, node: Tree[Token] | Token) -> None:
        if not isinstance(node, Tree):
            raise _UnsupportedError
        if node.data == "and_":
            for child in node.children:
                self.read(child)
        elif node.data == "compare":
            self.compare(*node.children)
        elif node.data == "in_" and _is_item_name(node.children[0]):
            self.item_names({_value(value) for value in node.children[1:]})
        else:
            raise _UnsupportedError

    def compare(
        self, operand: Tree[Token] | Token, operator: Tree[Token] | Token, value: Tree[Token] | Token
    ) -> None:
        if str(operator) != "=":
            raise _UnsupportedError
        if _is_item_name(operand):
            self.item_names({_value(value)})
            return
        attribute = _attribute(operand)
        if attribute in self.match:
            raise _UnsupportedError  # a Subset holds one value per attribute
        self.match[attribute] = _value(value)

    def item_names(self, names: set[str]) -> None:
        # Two itemName() tests joined by 'and' select the names both allow.
        self.names = frozenset(names) if self.names is None else self.names & names


def subset_from_where(where: str) -> Subset | None:
    """The Subset that selects exactly the items ``where`` selects, or None when the clause does not parse
    or is not of a supported form (SUPPORTED_FORMS)."""
    try:
        tree = parse_where(where)
    except InvalidRequestError:
        return None
    reader = _SubsetReader()
    try:
        reader.read(tree)
    except _UnsupportedError:
        return None
    return Subset.of(reader.names, reader.match)
