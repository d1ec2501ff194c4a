"""Text as SimpleDB puts it in its XML responses.

SimpleDB stores any UTF-8 text, but XML cannot carry every character. The Developer Guide
("Working with XML-Restricted Characters") says: if a name or value contains the NUL character,
anything in XML's RestrictedChar category, or a permanently undefined Unicode character, the UTF-8
octets are Base64-encoded and the element gets ``encoding="base64"``. The same rule applies to item
names, attribute names and attribute values.
"""

from __future__ import annotations

import base64
import re

# XML 1.0 forbids U+0000-U+0008, U+000B, U+000C, U+000E-U+001F, surrogates and U+FFFE/U+FFFF;
# XML 1.1 adds RestrictedChar U+007F-U+0084 and U+0086-U+009F; "permanently undefined" characters
# are the Unicode noncharacters U+FDD0-U+FDEF and the last two code points of every plane.
_NONCHARACTERS = "".join(chr((plane << 16) | low) for plane in range(17) for low in (0xFFFE, 0xFFFF))
_NEEDS_BASE64 = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufdd0-\ufdef" + _NONCHARACTERS + "]"
)

# Carriage returns are legal XML but every parser folds them into line feeds, so they travel as a
# character reference to come back byte-for-byte.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def needs_base64(text: str) -> bool:
    # isprintable() is a fast C scan that is False for every character the pattern matches (they are
    # all in categories Cc, Cs or Cn); most text is printable and skips the regular expression.
    return not text.isprintable() and _NEEDS_BASE64.search(text) is not None


def encode(text: str) -> tuple[str, bool]:
    """The element text for ``text`` and whether it is Base64 (``encoding="base64"``)."""
    if needs_base64(text):
        raw = text.encode("utf-8", "surrogatepass")
        return base64.b64encode(raw).decode("ascii"), True
    return text.translate(_ESCAPES), False


def element(tag: str, text: str, alternate_tag: str) -> str:
    """``<Tag>text</Tag>``, or the Base64 form.

    The service marks a Base64 element with the XML attribute ``encoding="base64"``; botocore's
    model has no XML attribute for it but reads the members ``AlternateNameEncoding`` /
    ``AlternateValueEncoding``, so both are written: the attribute as the service documents it,
    and the sibling element so that boto3 callers see ``AlternateValueEncoding == "base64"``.
    """
    body, is_base64 = encode(text)
    if is_base64:
        return f'<{tag} encoding="base64">{body}</{tag}><{alternate_tag}>base64</{alternate_tag}>'
    return f"<{tag}>{body}</{tag}>"


def escape(text: str) -> str:
    """Plain escaping for text that never needs Base64 (codes, messages, tokens)."""
    return (
        text.translate(_ESCAPES)
        if not needs_base64(text)
        else _NEEDS_BASE64.sub("?", text).translate(_ESCAPES)
    )


def attribute_xml(name: str, value: str) -> str:
    return (
        "<Attribute>"
        + element("Name", name, "AlternateNameEncoding")
        + element("Value", value, "AlternateValueEncoding")
        + "</Attribute>"
    )


def item_xml(item_name: str, pairs: list[tuple[str, str]]) -> str:
    parts = ["<Item>", element("Name", item_name, "AlternateNameEncoding")]
    parts.extend(attribute_xml(name, value) for name, value in pairs)
    parts.append("</Item>")
    return "".join(parts)


def wire_size(fragment: str) -> int:
    """Bytes an XML fragment takes on the wire: what the 1 MB Select response cap is measured against."""
    return len(fragment) if fragment.isascii() else len(fragment.encode("utf-8", "surrogatepass"))
