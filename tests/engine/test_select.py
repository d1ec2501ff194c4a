"""Select, checked against the Developer Guide's sample data set and documented queries."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from engine.helpers import attribute_set, error_of, item_names, put, select_all
from simpledb_backup.errors import InvalidRequestError
from simpledb_backup.selectgrammar import checked_where_clause

# "Sample Query Data Set"
SAMPLE: dict[str, dict[str, list[str]]] = {
    "0385333498": {
        "Title": ["The Sirens of Titan"],
        "Author": ["Kurt Vonnegut"],
        "Year": ["1959"],
        "Pages": ["00336"],
        "Keyword": ["Book", "Paperback"],
        "Rating": ["*****", "5 stars", "Excellent"],
    },
    "0802131786": {
        "Title": ["Tropic of Cancer"],
        "Author": ["Henry Miller"],
        "Year": ["1934"],
        "Pages": ["00318"],
        "Keyword": ["Book"],
        "Rating": ["****"],
    },
    "1579124585": {
        "Title": ["The Right Stuff"],
        "Author": ["Tom Wolfe"],
        "Year": ["1979"],
        "Pages": ["00304"],
        "Keyword": ["Book", "Hardcover", "American"],
        "Rating": ["****", "4 stars"],
    },
    "B000T9886K": {
        "Title": ["In Between"],
        "Author": ["Paul Van Dyk"],
        "Year": ["2007"],
        "Keyword": ["CD", "Trance"],
        "Rating": ["4 stars"],
    },
    "B00005JPLW": {
        "Title": ["300"],
        "Author": ["Zack Snyder"],
        "Year": ["2007"],
        "Keyword": ["DVD", "Action", "Frank Miller"],
        "Rating": ["***", "3 stars", "Not bad"],
    },
    "B000SF3NGK": {
        "Title": ["Heaven's Gonna Burn Your Eyes"],
        "Author": ["Thievery Corporation"],
        "Year": ["2002"],
        "Rating": ["*****"],
    },
}


@pytest.fixture
def mydomain(sdb: Any) -> str:
    sdb.create_domain(DomainName="mydomain")
    sdb.batch_put_attributes(
        DomainName="mydomain",
        Items=[
            {
                "Name": name,
                "Attributes": [{"Name": k, "Value": v} for k, values in attrs.items() for v in values],
            }
            for name, attrs in SAMPLE.items()
        ],
    )
    return "mydomain"


def names(sdb: Any, expression: str) -> list[str]:
    items, _ = select_all(sdb, expression)
    return item_names({"Items": items})


# (expression, expected item names); ordered results are compared as lists, the others as sets.
DOCUMENTED = [
    # Simple queries
    ("select * from mydomain where Title = 'The Right Stuff'", {"1579124585"}),
    ("select * from mydomain where Year > '1985'", {"B000T9886K", "B00005JPLW", "B000SF3NGK"}),
    (
        "select * from mydomain where Rating like '****%'",
        {"0385333498", "1579124585", "0802131786", "B000SF3NGK"},
    ),
    ("select * from mydomain where Pages < '00320'", {"1579124585", "0802131786"}),
    # Range queries
    (
        "select * from mydomain where Year > '1975' and Year < '2008'",
        {"1579124585", "B000T9886K", "B00005JPLW", "B000SF3NGK"},
    ),
    (
        "select * from mydomain where Year between '1975' and '2008'",
        {"1579124585", "B000T9886K", "B00005JPLW", "B000SF3NGK"},
    ),
    (
        "select * from mydomain where Rating = '***' or Rating = '*****'",
        {"0385333498", "B00005JPLW", "B000SF3NGK"},
    ),
    (
        "select * from mydomain where (Year > '1950' and Year < '1960') or Year like '193%' or Year = '2007'",
        {"0385333498", "0802131786", "B000T9886K", "B00005JPLW"},
    ),
    # Multiple attribute queries
    ("select * from mydomain where Rating = '****'", {"0802131786", "1579124585"}),
    ("select * from mydomain where every(Rating) = '****'", {"0802131786"}),
    ("select * from mydomain where Keyword = 'Book' intersection Keyword = 'Hardcover'", {"1579124585"}),
    # Operators
    ("select * from mydomain where Keyword in ('CD', 'DVD')", {"B000T9886K", "B00005JPLW"}),
    ("select * from mydomain where every(Keyword) in ('Book', 'Paperback')", {"0385333498", "0802131786"}),
    ("select * from mydomain where Pages is null", {"B000T9886K", "B00005JPLW", "B000SF3NGK"}),
    ("select * from mydomain where Pages is not null", {"0385333498", "0802131786", "1579124585"}),
    ("select * from mydomain where Author like '%Miller'", {"0802131786"}),
    ("select * from mydomain where Title like '%Right%'", {"1579124585"}),
    (
        "select * from mydomain where Title not like 'The%'",
        {"0802131786", "B000T9886K", "B00005JPLW", "B000SF3NGK"},
    ),
    ("select * from mydomain where Year != '2007'", {"0385333498", "0802131786", "1579124585", "B000SF3NGK"}),
    ("select * from mydomain where Year >= '2002' and Year <= '2002'", {"B000SF3NGK"}),
    ("select * from mydomain where not Year < '2000'", {"B000T9886K", "B00005JPLW", "B000SF3NGK"}),
    ("select * from mydomain where itemName() like 'B000%'", {"B000T9886K", "B00005JPLW", "B000SF3NGK"}),
    ("select * from mydomain where itemName() in ('0802131786', 'nope')", {"0802131786"}),
    ("select * from mydomain where Year = '2007' and Author = 'Zack Snyder'", {"B00005JPLW"}),
    (
        "select * from mydomain where Year = '2007' or Keyword = 'Paperback'",
        {"B000T9886K", "B00005JPLW", "0385333498"},
    ),
    ("SELECT * FROM mydomain WHERE Year = '1934'", {"0802131786"}),
    ('select * from `mydomain` where `Year` = "1934"', {"0802131786"}),
    ("select * from mydomain", set(SAMPLE)),
]

DOCUMENTED_SORTED = [
    (
        "select * from mydomain where Year < '1980' order by Year asc",
        ["0802131786", "0385333498", "1579124585"],
    ),
    ("select * from mydomain where Year < '1980' order by Year", ["0802131786", "0385333498", "1579124585"]),
    (
        "select * from mydomain where Year = '2007' intersection Author is not null order by Author desc",
        ["B00005JPLW", "B000T9886K"],
    ),
    (
        "select * from mydomain where itemName() > '1' order by itemName() desc",
        ["B000T9886K", "B000SF3NGK", "B00005JPLW", "1579124585"],
    ),
    ("select * from mydomain where Author is null or Author is not null order by itemName()", sorted(SAMPLE)),
    ("select * from mydomain where Author is null and Year is not null order by Year", []),
    (
        "select * from mydomain where Pages is not null order by Pages desc",
        ["0385333498", "0802131786", "1579124585"],
    ),
]


@pytest.mark.parametrize(("expression", "expected"), DOCUMENTED, ids=[e for e, _ in DOCUMENTED])
def test_documented_queries(sdb: Any, mydomain: str, expression: str, expected: set[str]) -> None:
    result = names(sdb, expression)
    assert set(result) == expected
    assert result == sorted(result)  # without order by: item-name order


@pytest.mark.parametrize(("expression", "expected"), DOCUMENTED_SORTED, ids=[e for e, _ in DOCUMENTED_SORTED])
def test_documented_sorted_queries(sdb: Any, mydomain: str, expression: str, expected: list[str]) -> None:
    assert names(sdb, expression) == expected


@pytest.mark.parametrize(
    ("expression", "count"),
    [
        ("select count(*) from mydomain where Title = 'The Right Stuff'", "1"),
        ("select count(*) from mydomain where Year > '1985'", "3"),
        ("select count(*) from mydomain", "6"),
        ("select count(*) from mydomain where Year > '1985' limit 500", "3"),
    ],
)
def test_count(sdb: Any, mydomain: str, expression: str, count: str) -> None:
    response = sdb.select(SelectExpression=expression)
    assert response["Items"] == [{"Name": "Domain", "Attributes": [{"Name": "Count", "Value": count}]}]
    assert "NextToken" not in response


def test_output_lists(sdb: Any, mydomain: str) -> None:
    response = sdb.select(SelectExpression="select itemName() from mydomain where Year = '1934'")
    assert response["Items"] == [{"Name": "0802131786"}] or response["Items"] == [
        {"Name": "0802131786", "Attributes": []}
    ]
    response = sdb.select(SelectExpression="select Title, Year from mydomain where Year = '1934'")
    assert attribute_set(response["Items"][0]["Attributes"]) == {
        ("Title", "Tropic of Cancer"),
        ("Year", "1934"),
    }
    response = sdb.select(SelectExpression="select * from mydomain where itemName() = '1579124585'")
    expected = {(k, v) for k, values in SAMPLE["1579124585"].items() for v in values}
    assert attribute_set(response["Items"][0]["Attributes"]) == expected


def test_and_on_one_attribute_matches_one_value(sdb: Any, mydomain: str) -> None:
    # Comparisons on one attribute joined by `and` form one predicate, evaluated per value;
    # `intersection` is how items holding both values are found.
    assert names(sdb, "select * from mydomain where Keyword = 'Book' and Keyword = 'Hardcover'") == []
    assert names(sdb, "select * from mydomain where Keyword = 'Book' intersection Keyword = 'Hardcover'") == [
        "1579124585"
    ]


def test_comparison_is_lexicographic_and_case_sensitive(sdb: Any, domain: str) -> None:
    for name, value in [("a", "10"), ("b", "9"), ("c", "apple"), ("d", "Apple"), ("e", "éclair")]:
        put(sdb, domain, name, ("v", value))
    assert names(sdb, f"select * from {domain} where v > '5'") == ["b", "c", "d", "e"]  # "10" < "5" < "9"
    assert names(sdb, f"select * from {domain} where v = 'apple'") == ["c"]
    assert names(sdb, f"select * from {domain} where v like 'A%'") == ["d"]
    assert names(sdb, f"select * from {domain} where v > 'z'") == ["e"]  # code point / UTF-8 byte order


def test_quoting_rules(sdb: Any, domain: str) -> None:
    put(
        sdb,
        domain,
        "q1",
        ("abc`123", "1"),
        ("timestamp-1", "1194393600"),
        ("attr1", 'He said, "That\'s the ticket!"'),
    )
    put(sdb, domain, "q2", ("select", "reserved"), ("Name With Space", "x"))
    assert names(sdb, f"select * from {domain} where `abc``123` = '1'") == ["q1"]
    assert names(sdb, f"select * from {domain} where `timestamp-1` > '1194393599'") == ["q1"]
    assert names(sdb, f"select * from {domain} where attr1 = 'He said, \"That''s the ticket!\"'") == ["q1"]
    assert names(sdb, f'select * from {domain} where attr1 = "He said, ""That\'s the ticket!"""') == ["q1"]
    assert names(sdb, f"select * from {domain} where `select` = 'reserved'") == ["q2"]
    assert names(sdb, f"select * from {domain} where `Name With Space` = 'x'") == ["q2"]
    assert names(sdb, f"select * from {domain} where $dollar_ok is null and `select` is not null") == ["q2"]


def test_domain_names_needing_backticks(sdb: Any) -> None:
    sdb.create_domain(DomainName="my-domain.v2")
    put(sdb, "my-domain.v2", "x", ("a", "1"))
    assert names(sdb, "select * from `my-domain.v2`") == ["x"]
    with pytest.raises(ClientError) as excinfo:
        sdb.select(SelectExpression="select * from my-domain.v2")
    assert error_of(excinfo) == ("InvalidQueryExpression", 400)


@pytest.mark.parametrize(
    "expression",
    [
        "select * from",
        "select from mydomain",
        "select * from mydomain where",
        "select * from mydomain where Year = 1934",  # values must be quoted
        "select * from mydomain where Year = '1934",
        "select * from select",  # reserved word as a name
        "select * from mydomain where from = 'x'",
        "select * from mydomain where Year == '1934'",
        "select * from mydomain order by",
        "select * from mydomain limit ten",
        "delete from mydomain",
        "select * from mydomain where Year = '1' and",
        "select * from mydomain where `Year = '1'",
    ],
)
def test_invalid_query_expression(sdb: Any, mydomain: str, expression: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        sdb.select(SelectExpression=expression)
    assert error_of(excinfo) == ("InvalidQueryExpression", 400)


@pytest.mark.parametrize(
    "expression",
    [
        "select * from mydomain order by Year",
        "select * from mydomain where Title = 'x' order by Year",
        "select * from mydomain where Year is null order by Year",
        "select * from mydomain where author is null order by title",
    ],
)
def test_invalid_sort_expression(sdb: Any, mydomain: str, expression: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        sdb.select(SelectExpression=expression)
    assert error_of(excinfo) == ("InvalidSortExpression", 400)


def test_documented_sort_rule_examples(sdb: Any, mydomain: str) -> None:
    # "select * from mydomain where author is null and title is not null order by title will succeed"
    assert sdb.select(
        SelectExpression="select * from mydomain where author is null and title is not null order by title"
    )
    assert names(sdb, "select * from mydomain order by itemName()") == sorted(SAMPLE)


def test_limit_is_per_page(sdb: Any, mydomain: str) -> None:
    page = sdb.select(SelectExpression="select * from mydomain where Year < '1980' order by Year limit 2")
    assert item_names(page) == ["0802131786", "0385333498"]
    rest = sdb.select(
        SelectExpression="select * from mydomain where Year < '1980' order by Year limit 2",
        NextToken=page["NextToken"],
    )
    assert item_names(rest) == ["1579124585"]
    assert "NextToken" not in rest


def test_limit_bounds(sdb: Any, mydomain: str) -> None:
    assert len(names(sdb, "select * from mydomain limit 2500")) == 6
    for bad in ("0", "2501"):
        with pytest.raises(ClientError) as excinfo:
            sdb.select(SelectExpression=f"select * from mydomain limit {bad}")
        assert error_of(excinfo) == ("InvalidParameterValue", 400)
    # count(*) is not bound by the 2500 maximum.
    assert (
        sdb.select(SelectExpression="select count(*) from mydomain limit 10000")["Items"][0]["Attributes"][0][
            "Value"
        ]
        == "6"
    )


def test_twenty_comparisons_and_twenty_attributes(sdb: Any, mydomain: str) -> None:
    twenty = " or ".join(f"Year = '{1990 + n}'" for n in range(20))
    assert sdb.select(SelectExpression=f"select * from mydomain where {twenty}")
    with pytest.raises(ClientError) as excinfo:
        sdb.select(SelectExpression=f"select * from mydomain where {twenty} or Year = '2100'")
    assert error_of(excinfo) == ("InvalidNumberValueTests", 400)
    twenty_names = " or ".join(f"a{n} = '1'" for n in range(20))
    assert sdb.select(SelectExpression=f"select * from mydomain where {twenty_names}")
    many_names = " or ".join(f"a{n} is null" for n in range(21))
    with pytest.raises(ClientError) as excinfo:
        sdb.select(SelectExpression=f"select * from mydomain where {many_names}")
    assert error_of(excinfo) in {("InvalidNumberPredicates", 400), ("InvalidNumberValueTests", 400)}
    with pytest.raises(ClientError) as excinfo:
        sdb.select(
            SelectExpression=f"select * from mydomain where a0 = '1' or {' or '.join(f'b{n} is null' for n in range(20))}"
        )
    assert error_of(excinfo) == ("InvalidNumberValueTests", 400)


def test_unique_attribute_limit_is_its_own_error(sdb: Any, mydomain: str) -> None:
    expression = (
        " intersection ".join(f"a{n} = '1'" for n in range(10))
        + " or "
        + " or ".join(f"b{n} = '1'" for n in range(10))
    )
    assert sdb.select(SelectExpression=f"select * from mydomain where {expression}") is not None
    # 21 distinct names with only 21 comparisons would also break the comparison limit, so use
    # `in` (one comparison) to isolate the attribute limit.
    expression = " or ".join(f"a{n} in ('1')" for n in range(21))
    with pytest.raises(ClientError) as excinfo:
        sdb.select(SelectExpression=f"select * from mydomain where {expression}")
    assert error_of(excinfo)[1] == 400


def test_too_many_requested_attributes(sdb: Any, mydomain: str) -> None:
    assert sdb.select(SelectExpression="select " + ", ".join(f"a{n}" for n in range(256)) + " from mydomain")
    with pytest.raises(ClientError) as excinfo:
        sdb.select(SelectExpression="select " + ", ".join(f"a{n}" for n in range(257)) + " from mydomain")
    assert error_of(excinfo) == ("TooManyRequestedAttributes", 400)


def test_consistent_read_is_accepted(sdb: Any, mydomain: str) -> None:
    response = sdb.select(SelectExpression="select * from mydomain where Year = '1934'", ConsistentRead=True)
    assert item_names(response) == ["0802131786"]


@pytest.mark.parametrize(
    "where",
    [
        "Year = '1959'",
        "every(Keyword) in ('Book', 'Paperback') intersection Rating like '*%'",
        "not (Year < '1950' or Year > '2000') and `Pages` between '00300' and '00400'",
        "itemName() like '0%' and Author is not null",
        "`order` = 'x' or `Year``s` = 'y'",
        "Title = 'It''s'",
        "`component` = 'main') or (`component` = 'main'",
        "order = 'x'",
        "Year = '1959' and",
        "Year = 1959",
        "(Year = '1959'",
        "Year = '1959' where Year = '1960'",
    ],
)
def test_the_product_accepts_the_where_clauses_the_engine_accepts(
    sdb: Any, mydomain: str, where: str
) -> None:
    # One grammar (simpledb_backup.selectgrammar) for both; the product also refuses `order by` and
    # `limit` inside a where clause, which a whole Select expression may carry after it.
    try:
        product_accepts = checked_where_clause(where) == f"({where})"
    except InvalidRequestError:
        product_accepts = False
    if product_accepts:
        answer = sdb.select(SelectExpression=f"select * from mydomain where {where}")
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    else:
        with pytest.raises(ClientError) as excinfo:
            sdb.select(SelectExpression=f"select * from mydomain where {where}")
        assert error_of(excinfo) == ("InvalidQueryExpression", 400)
