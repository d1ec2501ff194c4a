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
# character reference to come back byte-for-byte. Applied by str.replace, each only when its character
# is there: str.translate with a mapping costs ~1 us per 100 characters, the bulk of a Select page's CPU.
_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;"))


def needs_base64(text: str) -> bool:
    # isprintable() is a fast C scan that is False for every character the pattern matches (they are
    # all in categories Cc, Cs or Cn); most text is printable and skips the regular expression.
    return not text.isprintable() and _NEEDS_BASE64.search(text) is not None


def _escaped(text: str) -> str:
    for character, reference in _ESCAPES:
        if character in text:
            text = text.replace(character, reference)
    return text


# item_xml's placeholders for the tags between texts: control characters, which no plain text holds.
_AFTER_ITEM_NAME, _AFTER_NAME, _AFTER_VALUE = "\x02", "\x00", "\x01"
_SET_ASIDE = ("\x00", "\x01", "\x02", "\t", "\n", "\r")
# The ASCII characters a plain text may hold: printable ones, tab, LF and CR (CR is escaped, not Base64).
_PLAIN_ASCII = bytes(range(0x20, 0x7F)) + b"\t\n\r"


def _needs_no_base64(text: str) -> bool:
    """Whether ``text`` certainly needs no Base64: printable once tab, LF, CR and the placeholders
    are set aside. Every character needs_base64 looks for is not printable, so this fast (C) test
    is sufficient; a text that holds a placeholder itself is caught by item_xml's counts."""
    if text.isprintable():
        return True
    for character in _SET_ASIDE:
        if character in text:
            text = text.replace(character, "")
    return text.isprintable()


def encode(text: str) -> tuple[str, bool]:
    """The element text for ``text`` and whether it is Base64 (``encoding="base64"``)."""
    if needs_base64(text):
        raw = text.encode("utf-8", "surrogatepass")
        return base64.b64encode(raw).decode("ascii"), True
    return _escaped(text), False


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
    return _escaped(text if not needs_base64(text) else _NEEDS_BASE64.sub("?", text))


def attribute_xml(name: str, value: str) -> str:
    return (
        "<Attribute>"
        + element("Name", name, "AlternateNameEncoding")
        + element("Value", value, "AlternateValueEncoding")
        + "</Attribute>"
    )


def _placeholders_only(text: str, pairs: int) -> bool:
    """Whether the texts joined in ``text`` need no Base64 and hold no placeholder themselves."""
    if text.isascii():
        # What is left once the plain characters are deleted (one C pass) must be the placeholders:
        # an ASCII text needs Base64 only for a control character.
        rest = text.encode("ascii").translate(None, _PLAIN_ASCII)
        return len(rest) == 2 * pairs and rest.count(b"\x00") == pairs and rest.count(b"\x01") == pairs - 1
    return (
        text.count(_AFTER_NAME) == pairs
        and text.count(_AFTER_VALUE) == pairs - 1
        and text.count(_AFTER_ITEM_NAME) == 1
        and _needs_no_base64(text)
    )


def item_xml(item_name: str, pairs: list[tuple[str, str]]) -> str:
    """An ``<Item>`` of a Select answer: its name and its name/value pairs, escaped or in Base64."""
    if pairs:
        # Most items need no Base64. Their texts are joined around placeholders for the tags, checked
        # and escaped in a few C passes over the whole item, and the placeholders become the tags.
        joined = _AFTER_VALUE.join([name + _AFTER_NAME + value for name, value in pairs])
        text = item_name + _AFTER_ITEM_NAME + joined
        if _placeholders_only(text, len(pairs)):
            text = _escaped(text)
            text = text.replace(_AFTER_ITEM_NAME, "</Name><Attribute><Name>")
            text = text.replace(_AFTER_NAME, "</Name><Value>")
            text = text.replace(_AFTER_VALUE, "</Value></Attribute><Attribute><Name>")
            return f"<Item><Name>{text}</Value></Attribute></Item>"
    parts = ["<Item>", element("Name", item_name, "AlternateNameEncoding")]
    parts.extend(attribute_xml(name, value) for name, value in pairs)
    parts.append("</Item>")
    return "".join(parts)


def wire_size(fragment: str) -> int:
    """Bytes an XML fragment takes on the wire: what the 1 MB Select response cap is measured against."""
    return len(fragment) if fragment.isascii() else len(fragment.encode("utf-8", "surrogatepass"))
