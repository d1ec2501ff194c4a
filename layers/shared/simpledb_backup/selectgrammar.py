"""SimpleDB's Select grammar, one copy for the product and for the local engine.

The product checks a subset backup's ``where`` clause with it before any Select runs
(:func:`checked_where_clause`); the engine in local/sdblocal/select.py parses whole Select expressions
with the same parser and evaluates them. The layer never imports local/, the engine imports this module.

Grammar, from the Developer Guide ("Using Select to Create Amazon SimpleDB Queries")::

    select output_list from domain_name [where expression] [sort_instructions] [limit limit]

* output_list: ``*``, ``itemName()``, ``count(*)`` or an explicit attribute list;
* expression: comparisons (``=  !=  >  >=  <  <=  like  not like  between  in  is null  is not
  null``) on an attribute, on ``itemName()`` or on ``every(attribute)``, joined by ``and``, ``or``,
  ``not``, parentheses and ``intersection`` (lowest precedence, then ``or``, ``and``, ``not``);
* quoting ("Select Quoting Rules"): values in ``'…'`` or ``"…"`` with the quote doubled inside;
  names unquoted when they are ``[A-Za-z_$][A-Za-z0-9_$]*`` and not a reserved word, otherwise in
  backticks with backticks doubled.

The grammar is a Python string rather than a ``.lark`` file so that ``sam build`` ships it with the
package, with no package data to declare.
"""

from functools import cache

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from simpledb_backup.errors import InvalidRequestError

# "Select Quoting Rules": these must be backtick-quoted when used as attribute or domain names.
RESERVED_WORDS = frozenset(
    {"or", "and", "not", "from", "where", "select", "like", "null", "is", "order", "by", "asc", "desc", "in"}
    | {"between", "intersection", "limit", "every"}
)

# SimpleDB's "Limits": at most 20 comparisons and 20 unique attribute names per Select expression.
MAX_COMPARISONS = 20
MAX_PREDICATE_ATTRIBUTES = 20

SELECT_GRAMMAR = r"""
start: "select"i output "from"i name where_clause? order_clause? limit_clause?

output: "*"                    -> out_all
      | ITEMNAME               -> out_itemname
      | COUNT                  -> out_count
      | name ("," name)*       -> out_attrs

where_clause: "where"i expr
order_clause: "order"i "by"i sort_target DIRECTION?
sort_target: name              -> sort_attr
           | ITEMNAME          -> sort_itemname
limit_clause: "limit"i INT

?expr: or_expr
     | expr "intersection"i or_expr            -> intersection
?or_expr: and_expr
        | or_expr "or"i and_expr               -> or_
?and_expr: not_expr
         | and_expr "and"i not_expr            -> and_
?not_expr: primary
         | "not"i not_expr                     -> not_
?primary: comparison
        | "(" expr ")"

comparison: operand COMPARATOR value                       -> compare
          | operand "like"i value                          -> like
          | operand "not"i "like"i value                   -> not_like
          | operand "between"i value "and"i value          -> between
          | operand "in"i "(" value ("," value)* ")"       -> in_
          | operand "is"i "null"i                          -> is_null
          | operand "is"i "not"i "null"i                   -> is_not_null

operand: name                  -> attr_operand
       | ITEMNAME              -> itemname_operand
       | "every"i "(" name ")" -> every_operand

name: NAME                     -> plain_name
    | QUOTED_NAME              -> quoted_name
value: SQ_STRING | DQ_STRING

DIRECTION: "asc"i | "desc"i
COMPARATOR: "!=" | ">=" | "<=" | "=" | ">" | "<"
ITEMNAME.2: /itemname\s*\(\s*\)/i
COUNT.2: /count\s*\(\s*\*\s*\)/i
NAME: /[A-Za-z_$][A-Za-z0-9_$]*/
QUOTED_NAME: /`(?:[^`]|``)*`/
SQ_STRING: /'(?:[^']|'')*'/
DQ_STRING: /"(?:[^"]|"")*"/
INT: /[0-9]+/
%ignore /[ \t\r\n]+/
"""

#: Start rule of a whole Select expression.
SELECT_START = "start"
#: Start rule of one boolean expression: what follows ``where``, up to ``order by`` or ``limit``.
WHERE_START = "expr"

# The rule names of the grammar's comparisons.
_COMPARISONS = frozenset({"compare", "like", "not_like", "between", "in_", "is_null", "is_not_null"})
# Keywords that end a where clause in a whole Select expression; named when they turn up inside one.
_CLAUSE_KEYWORDS = frozenset({"order", "limit"})


@cache
def select_parser() -> Lark:
    """The shared LALR parser (built once, ~30 ms): parse with ``start=SELECT_START`` or ``WHERE_START``."""
    return Lark(SELECT_GRAMMAR, parser="lalr", maybe_placeholders=False, start=[SELECT_START, WHERE_START])


def _shown(text: str) -> str:
    """A token as a message quotes it: a long quoted value is cut, so the message stays readable."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _describe(exc: UnexpectedInput, where: str) -> str:
    """What lark found wrong, as "unexpected X at position N" (1-based, in characters of the clause)."""
    position = exc.pos_in_stream + 1 if exc.pos_in_stream is not None else len(where) + 1
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        return f"the clause ends too early, at position {len(where) + 1}"
    if isinstance(exc, UnexpectedToken):
        text = str(exc.token)
        if text.lower() in _CLAUSE_KEYWORDS:
            return f"'{text}' at position {position}: 'order by' and 'limit' are not part of a where clause"
        return f"unexpected {_shown(text)} at position {position}"
    if isinstance(exc, UnexpectedCharacters):
        return f"unexpected character {exc.char!r} at position {position}"
    return f"cannot be parsed at position {position}"  # pragma: no cover - lark's three kinds are above


def _check_names(tree: Tree[Token]) -> None:
    """Refuse unquoted reserved words used as names, as SimpleDB does (InvalidQueryExpression)."""
    names = [name.children[0] for name in tree.find_data("plain_name")]
    reserved = [t for t in names if isinstance(t, Token) and t.lower() in RESERVED_WORDS]
    if reserved:
        first = min(reserved, key=lambda token: token.start_pos or 0)
        raise InvalidRequestError(
            f"where: {_shown(str(first))} at position {(first.start_pos or 0) + 1} is a reserved word;"
            " quote it with backticks to use it as an attribute name"
        )


def _check_comparisons(tree: Tree[Token], max_comparisons: int) -> None:
    # SimpleDB's other limit, 20 distinct attribute names, cannot be passed without passing this one.
    count = sum(1 for subtree in tree.iter_subtrees() if subtree.data in _COMPARISONS)
    if count > max_comparisons:
        raise InvalidRequestError(
            f"where: {count} comparisons; at most {max_comparisons} are allowed here"
            f" (SimpleDB allows {MAX_COMPARISONS} per Select expression)"
        )


def parse_where(where: str) -> Tree[Token]:
    """The syntax tree of ``where`` parsed as exactly one boolean expression, or InvalidRequestError."""
    if not where.strip():
        raise InvalidRequestError("where: the clause is empty")
    try:
        tree = select_parser().parse(where, start=WHERE_START)
    except UnexpectedInput as exc:
        raise InvalidRequestError(f"where: {_describe(exc, where)}") from exc
    _check_names(tree)
    return tree


def checked_where_clause(where: str, *, max_comparisons: int = MAX_COMPARISONS) -> str:
    """``where`` in parentheses, once it parses as exactly ONE boolean expression of Select's where-grammar.

    The product pastes the result into ``select ... where <result> and itemName() >= ...``: a clause that
    is not one expression (``a = 'x') or (b = 'y'``) could otherwise escape that range. ``order by`` and
    ``limit`` are refused, and so are unquoted reserved words and more comparisons than allowed (pass a
    smaller ``max_comparisons`` when comparisons are added around the clause).
    Raises InvalidRequestError, whose message starts with ``where: ``.
    """
    tree = parse_where(where)
    _check_comparisons(tree, max_comparisons)
    return f"({where})"
