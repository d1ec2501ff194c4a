"""The engine's form decoder reads every body exactly as ``urllib.parse.parse_qsl`` does."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdblocal.forms import decode_form


def reference(body: bytes) -> dict[str, str]:
    text = body.decode("utf-8", "replace")
    return dict(parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace"))


texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(texts, texts), max_size=8), st.booleans())
def test_encoded_forms(fields: list[tuple[str, str]], plus: bool) -> None:
    body = (urlencode(fields) if plus else urlencode(fields, quote_via=quote, safe="-_.~")).encode("ascii")
    assert decode_form(body) == reference(body) == dict(fields)


@settings(max_examples=500, deadline=None)
@given(
    st.binary(max_size=40)
    | st.lists(
        st.sampled_from([b"a", b"=", b"&", b"%", b"+", b"4", b"F", b"\xff", b"\xc3"]), max_size=20
    ).map(b"".join)
)
def test_any_bytes(body: bytes) -> None:
    assert decode_form(body) == reference(body)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"a=1&&b=2",
        b"a&b=c=d",
        b"a=%zz&b=%4",
        b"a=%FF",
        b"a=%EF%BF%BF&b=1",
        b"a=\xef\xbf\xbf",
        b"a=\xef&b=\xbf",
        b"a=%C3%A9&b=%C3",
        b"a=1&a=2",
        b"a=x+y%2By",
        b"k=%%41",
        b"a=\xff&b=1",
        b"Item.1.ItemName=%F0%90%80%80&Item.1.Attribute.1.Value=%0D%0A%00",
    ],
)
def test_edge_cases(body: bytes) -> None:
    assert decode_form(body) == reference(body)
