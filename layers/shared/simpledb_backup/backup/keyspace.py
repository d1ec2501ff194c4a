"""Split points for any item names: a monotone map of names to numbers, learned from names the domain holds.

SimpleDB offers no sample of a domain's names, only its first and its last ones in itemName() order (a Select
page ascending and one descending). Between them the names are taken as numbers: after the prefix every name
of the range shares, each place is one digit, in the character class the sample names use at that place
(decimal digits, hex digits, letters, or else every character seen). Hex digests,
``user-000123``, dates or URLs then spread over the number line roughly as they do over the domain; where they do
not (URLs leave parts of it empty), the streams rebalance by splitting whatever range is left largest by their
own measure (scan.py), so the map only has to be monotone, never exact.

Every split point is built from the prefix and characters below U+E000 only, so it sorts against every name
alike whether SimpleDB compares by code point or by UTF-16 unit (dumpformat.collation_safe).
"""

import string
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from math import log2, prod

from simpledb_backup.formats.dumpformat import collation_safe

#: Resolution of a position: enough that even small alphabets tell a millionth of the range apart.
_POSITION_BITS = 40
_MAX_PLACES = 64
_RARE_SHARE = 0.002
#: The classes a place's characters are generalised to, smallest first: the sample shows the two ends of the
#: domain, the class fills in what lies between (``user-0[1-3]...`` when the ends are ``user-00``/``user-04``).
_CLASSES = (
    string.digits,
    string.digits + "abcdef",
    string.digits + "ABCDEF",
    string.ascii_lowercase,
    string.ascii_uppercase,
    string.digits + string.ascii_lowercase,
    string.digits + string.ascii_uppercase,
    string.ascii_letters,
    string.digits + string.ascii_uppercase + string.ascii_lowercase,
)


def common_prefix(first: str, second: str) -> str:
    length = 0
    for left, right in zip(first, second, strict=False):
        if left != right:
            break
        length += 1
    return first[:length]


def _place_alphabet(seen: set[str], union: str) -> str:
    # A place where the samples hold a single character (a date's '-', the 'o' of "contrib" and "non-free") gets
    # the whole alphabet: the names between the two ends may differ there ("main"), and an alphabet of that one
    # character would give them all one position, which no split point could divide.
    if len(seen) > 1:
        for alphabet in _CLASSES:
            if seen <= set(alphabet):
                return "".join(sorted(alphabet))
    return union


@dataclass(frozen=True)
class KeySpace:
    """Names after ``prefix`` as mixed-radix numbers, one alphabet per place: ``position`` never decreases along
    code point order, and ``name_at`` gives a collation-safe name at a position."""

    prefix: str
    places: tuple[str, ...]

    @classmethod
    def learn(cls, names: Iterable[str], low: str, high: str) -> "KeySpace | None":
        """The key space between ``low`` < ``high``, from sample ``names``; None when no split point can be built
        between them (a common prefix from U+E000 up, a single character)."""
        prefix = common_prefix(low, high)
        if not collation_safe(prefix):
            return None
        tails = [name[len(prefix) :] for name in (*names, low, high) if name.startswith(prefix)]
        union = "".join(
            sorted({character for tail in tails for character in tail if collation_safe(character)})
        )
        if len(union) < 2:
            return None
        counts: list[Counter[str]] = []
        for tail in tails:
            for place, character in enumerate(tail[:_MAX_PLACES]):
                if place == len(counts):
                    counts.append(Counter())
                if collation_safe(character):
                    counts[place][character] += 1
        # A character rarer than this at a place is an outlier (Repoman's one ``meta`` among hex digests): the
        # place's class comes from the others, and the outlier still sorts where it is.
        rare = len(tails) * _RARE_SHARE
        seen_at = [{character for character, count in place.items() if count > rare} for place in counts]
        places: list[str] = []
        bits = 0.0
        while bits < _POSITION_BITS and len(places) < _MAX_PLACES:
            seen = seen_at[len(places)] if len(places) < len(seen_at) else set()
            alphabet = _place_alphabet(seen, union) if seen else union
            places.append(alphabet)
            bits += log2(len(alphabet))
        return cls(prefix, tuple(places)) if bits >= 1 else None

    @property
    def size(self) -> int:
        """One more than the highest position."""
        return prod(len(alphabet) for alphabet in self.places)

    def position(self, name: str) -> int:
        """The name's number: never smaller for a later name (code point order)."""
        if not name.startswith(self.prefix):
            return 0 if name < self.prefix else self.size - 1
        tail = name[len(self.prefix) :]
        value = 0
        for place, alphabet in enumerate(self.places):
            rest = _radix(self.places[place:])
            if place >= len(tail):
                return value * rest  # ended: below every longer name, the lowest digits follow
            character = tail[place]
            index = bisect_right(alphabet, character) - 1
            if index < 0:  # below this place's alphabet: as low as its lowest digit, then nothing
                return value * rest
            value = value * len(alphabet) + index
            if alphabet[index] != character:  # between two digits: above every name with the lower one
                remaining = rest // len(alphabet)
                return (value + 1) * remaining - 1
        return value

    def name_at(self, position: int) -> str:
        """The name of the alphabets at ``position``, without the trailing places' lowest digits."""
        characters = []
        for alphabet in reversed(self.places):
            position, digit = divmod(position, len(alphabet))
            characters.append(alphabet[digit])
        characters.reverse()
        while characters and len(self.places[len(characters) - 1]) > 1:
            if characters[-1] != self.places[len(characters) - 1][0]:
                break
            characters.pop()
        return self.prefix + "".join(characters)

    def split_points(self, low: str, high: str, count: int) -> list[str]:
        """Up to ``count`` names strictly between ``low`` and ``high``, ascending, evenly spaced in positions."""
        first, last = self.position(low), self.position(high)
        points: list[str] = []
        for step in range(1, count + 1):
            name = self.name_at(first + (last - first) * step // (count + 1))
            if low < name < high and (not points or name > points[-1]):
                points.append(name)
        return points


def _radix(places: Sequence[str]) -> int:
    return prod(len(alphabet) for alphabet in places)
