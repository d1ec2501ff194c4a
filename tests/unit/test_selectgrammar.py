"""The shared Select grammar: a subset backup's where clause is exactly one boolean expression, or refused."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lark import Token, Tree

from simpledb_backup.errors import InvalidRequestError
from simpledb_backup.selectgrammar import (
    RESERVED_WORDS,
    SELECT_START,
    WHERE_START,
    checked_where_clause,
    parse_where,
    select_parser,
)

ESCAPE = "`component` = 'main') or (`component` = 'main'"


def where_tree(text: str) -> Tree[Token]:
    return select_parser().parse(text, start=WHERE_START)


def segment_query(checked: str) -> str:
    """How the backup uses a checked clause: inside one segment's itemName() range."""
    return (
        f"select * from `packages` where {checked} and itemName() >= 'a' and itemName() < 'b'"
        " order by itemName() limit 2500"
    )


def assert_confined(where: str) -> None:
    """The checked clause re-parses to the same tree, and in a segment query it is one operand of the `and`."""
    checked = checked_where_clause(where)
    assert checked == f"({where})"
    assert where_tree(checked) == where_tree(where)
    query = select_parser().parse(segment_query(checked), start=SELECT_START)
    (clause,) = query.find_data("where_clause")
    outer = clause.children[0]
    assert isinstance(outer, Tree)
    assert outer.data == "and_"
    inner = outer.children[0]
    assert isinstance(inner, Tree)
    assert inner.data == "and_"
    assert inner.children[0] == where_tree(where)  # the whole clause, under both range comparisons


def refusal(where: str) -> str:
    with pytest.raises(InvalidRequestError) as excinfo:
        checked_where_clause(where)
    message = str(excinfo.value)
    assert message.startswith("where: ")
    return message


def refusal_with(where: str, **limits: int) -> str:
    with pytest.raises(InvalidRequestError) as excinfo:
        checked_where_clause(where, **limits)
    return str(excinfo.value)


# --- examples ------------------------------------------------------------------------------------


def test_the_escape_from_the_segment_range_is_refused() -> None:
    assert refusal(ESCAPE) == "where: unexpected ')' at position 21"
    # What the product pasted before: the clause's own `or` escaped the range.
    escaped = select_parser().parse(segment_query(f"({ESCAPE})"), start=SELECT_START)
    (clause,) = escaped.find_data("where_clause")
    assert isinstance(clause.children[0], Tree)
    assert clause.children[0].data == "or_"


@pytest.mark.parametrize(
    "where",
    [
        "component = 'main'",
        "a != 'x'",
        "a > 'x'",
        "a >= 'x'",
        "a < 'x'",
        "a <= 'x'",
        "a='x'",
        "version between '1.0' and '2.0'",
        "dist in ('stable', 'testing', \"unstable\")",
        "name like 'lib%'",
        "name not like '%-dev'",
        "license is null",
        "license is not null",
        "every(arch) = 'all'",
        "every ( `arch` ) in ('amd64')",
        "itemName() like 'pkg-%'",
        "ITEMNAME ( ) >= 'a'",
        "a = '1' and b = '2'",
        "a = '1' or b = '2'",
        "not a = '1'",
        "not (a = '1' or b = '2') and c = '3'",
        "tag = 'x' intersection tag = 'y'",
        "(a = '1' intersection b = '2') or c = '3'",
        "`weird``name` = 'v'",
        "`select` = 'reserved words quoted are names'",
        "`` = 'the empty name'",
        "a = 'it''s'",
        'a = "say ""hi"""',
        "a = 'order by x limit 5'",  # keywords inside a value are text
        "a = ') or (b = '",
        "\n  a = 'x'\tAND\tb = 'y'  \n",
        "$name_1 = 'x'",
        "a = 'caf\u00e9 \u2603 \U0001f600'",
    ],
)
def test_valid_clauses_of_every_kind_are_accepted(where: str) -> None:
    assert_confined(where)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("", "where: the clause is empty"),
        ("   \n", "where: the clause is empty"),
        (
            "a = 'x' order by a",
            "where: 'order' at position 9: 'order by' and 'limit' are not part of a where clause",
        ),
        (
            "a = 'x' LIMIT 10",
            "where: 'LIMIT' at position 9: 'order by' and 'limit' are not part of a where clause",
        ),
        ("a = 'x' and", "where: the clause ends too early, at position 12"),
        ("a = 'x", 'where: unexpected character "\'" at position 5'),
        ("a = 'x'; delete", "where: unexpected character ';' at position 8"),
        ("a == 'x'", "where: unexpected '=' at position 4"),
        ("a = 'x') and (b = 'y'", "where: unexpected ')' at position 8"),
        ("(a = 'x'", "where: the clause ends too early, at position 9"),
        ("a = x", "where: unexpected 'x' at position 5"),
        (
            "from = 'x'",
            "where: 'from' at position 1 is a reserved word; quote it with backticks to use it as an attribute name",
        ),
        (
            "a = '1' and Order = 'x'",
            "where: 'Order' at position 13 is a reserved word; quote it with backticks to use it as an attribute name",
        ),
        (
            "every(limit) = 'x'",
            "where: 'limit' at position 7 is a reserved word; quote it with backticks to use it as an attribute name",
        ),
        ("select * from d where a = 'x'", "where: unexpected '*' at position 8"),
        ("a = 'x' where b = 'y'", "where: unexpected 'where' at position 9"),
        ("`a = 'x'", "where: unexpected character '`' at position 1"),
        (
            "a = 'x' " + "'" + "v" * 100 + "'",
            'where: unexpected "\'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv..." at position 9',
        ),
    ],
)
def test_what_is_not_one_expression_is_refused_with_its_position(where: str, message: str) -> None:
    assert refusal(where) == message


def test_simpledb_limit_on_comparisons() -> None:
    twenty = " and ".join(f"a{n % 5} = '{n}'" for n in range(20))
    assert checked_where_clause(twenty) == f"({twenty})"
    assert refusal(twenty + " and b = 'x'").startswith("where: 21 comparisons; at most 20")
    # The backup adds two itemName() comparisons around the clause: it asks for 18.
    assert refusal_with(twenty, max_comparisons=18).startswith("where: 20 comparisons; at most 18")
    kinds = " or ".join(
        f"every(`n{n % 3}`) in ('1', '2') intersection b between '1' and '2'" for n in range(10)
    )
    assert checked_where_clause(kinds) == f"({kinds})"  # in and between count one each
    assert refusal(f"not {kinds} and c is null").startswith("where: 21 comparisons")


def test_the_parser_is_built_once() -> None:
    assert select_parser() is select_parser()
    assert parse_where("a = 'x'") == where_tree("a = 'x'")


# --- properties ----------------------------------------------------------------------------------

SPACE = st.sampled_from([" ", "  ", "\n", "\t", " \r\n "])


def keyword(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word.lower(), word.upper(), word.title()])


PLAIN_NAMES = st.from_regex(r"[A-Za-z_$][A-Za-z0-9_$]{0,6}", fullmatch=True).filter(
    lambda name: name.lower() not in RESERVED_WORDS
)
QUOTED_NAMES = st.text(st.characters(codec="utf-8"), max_size=6).map(
    lambda t: "`" + t.replace("`", "``") + "`"
)
NAMES = st.one_of(PLAIN_NAMES, QUOTED_NAMES)
VALUES = st.builds(
    lambda quote, text: quote + text.replace(quote, quote * 2) + quote,
    st.sampled_from(["'", '"']),
    st.text(st.characters(codec="utf-8"), max_size=8),
)
ITEM_NAME = st.builds(
    lambda s1, s2: f"itemName{s1}({s2})", st.sampled_from(["", " "]), st.sampled_from(["", " "])
)
OPERANDS = st.one_of(NAMES, ITEM_NAME, st.builds(lambda e, n: f"{e}({n})", keyword("every"), NAMES))


def joined(*parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """The parts separated by whitespace."""
    return st.tuples(*parts, st.lists(SPACE, min_size=len(parts), max_size=len(parts))).map(
        lambda drawn: "".join(
            part + space for part, space in zip(drawn[:-1], drawn[-1], strict=True)
        ).rstrip()
    )


def values_list(values: list[str]) -> str:
    return "(" + ", ".join(values) + ")"


COMPARISONS = st.one_of(
    joined(OPERANDS, st.sampled_from(["=", "!=", ">", ">=", "<", "<="]), VALUES),
    joined(OPERANDS, keyword("like"), VALUES),
    joined(OPERANDS, keyword("not"), keyword("like"), VALUES),
    joined(OPERANDS, keyword("between"), VALUES, keyword("and"), VALUES),
    joined(OPERANDS, keyword("in"), st.lists(VALUES, min_size=1, max_size=3).map(values_list)),
    joined(OPERANDS, keyword("is"), keyword("null")),
    joined(OPERANDS, keyword("is"), keyword("not"), keyword("null")),
)


def combined(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        joined(children, keyword("and"), children),
        joined(children, keyword("or"), children),
        joined(children, keyword("intersection"), children),
        joined(keyword("not"), children),
        children.map(lambda child: f"({child})"),
    )


CLAUSES = st.recursive(COMPARISONS, combined, max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(CLAUSES)
def test_any_generated_clause_is_accepted_and_stays_inside_the_range(where: str) -> None:
    assert_confined(where)


FRAGMENTS = st.sampled_from(
    [
        "'",
        '"',
        "`",
        "(",
        ")",
        ") or (",
        "') or ('",
        "' or '",
        " or a = 'x'",
        " order by a",
        " limit 5",
        " ",
        "not ",
    ]
)


@st.composite
def mutated_clauses(draw: st.DrawFn) -> str:
    """A valid clause with a few fragments inserted or characters deleted: often refused, sometimes not."""
    clause = draw(CLAUSES)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        position = draw(st.integers(min_value=0, max_value=len(clause)))
        if draw(st.booleans()):
            clause = clause[:position] + draw(FRAGMENTS) + clause[position:]
        else:
            clause = clause[:position] + clause[position + draw(st.integers(min_value=1, max_value=3)) :]
    return clause


@settings(max_examples=500, deadline=None)
@given(mutated_clauses())
def test_any_text_is_refused_cleanly_or_stays_inside_the_range(where: str) -> None:
    try:
        checked = checked_where_clause(where)
    except InvalidRequestError as exc:
        message = str(exc)
    else:
        assert checked == f"({where})"
        assert_confined(where)
        return
    assert message.startswith("where: ")
