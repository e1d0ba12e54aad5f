"""Split AUTOMATIC1111's `Key: value, Key: "quoted, value"` line into pairs in linear time.

A1111 (and our earlier code) reads this line with `re.findall(r'\\s*(\\w[\\w \\-/]+):\\s*("(?:\\\\.|[^\\\\"])+"|[^,]*)(?:,|$)')`.
That search retries the key pattern at every start position, so a long line with no colon costs time quadratic in
its length while holding the GIL: a 1 KB PNG whose compressed text chunk inflates to 80 k letters froze the whole
server for 42 s. No library parses this format, so this hand-written scanner returns exactly what that findall
returns (a property test checks it) while visiting each character a bounded number of times.
"""

from __future__ import annotations

_KEY_EXTRA = frozenset("_ -/")


def _word(char: str) -> bool:
    """What `\\w` matches in a str pattern: Unicode letters, digits, numerics and the underscore."""
    return char.isalnum() or char == "_"


def _key_char(char: str) -> bool:
    return char.isalnum() or char in _KEY_EXTRA


def _quoted_end(line: str, start: int) -> int:
    """Index just past a `"…"` value starting at `start` that is followed by a comma or the end; -1 if none."""
    index, end = start + 1, len(line)
    while index < end:
        char = line[index]
        if char == "\\":
            if index + 1 >= end:
                return -1
            index += 2
        elif char == '"':
            closes_here = index > start + 1 and (index + 1 == end or line[index + 1] == ",")
            return index + 1 if closes_here else -1
        else:
            index += 1
    return -1


def param_pairs(line: str) -> list[tuple[str, str]]:
    """The (key, raw value) pairs of one parameter line, as A1111's regex would find them."""
    pairs: list[tuple[str, str]] = []
    position, end = 0, len(line)
    while position < end:
        colon = line.find(":", position)
        if colon < 0:
            break
        start = colon  # the key is the run of key characters just before the colon, from its first word character
        while start > position and _key_char(line[start - 1]):
            start -= 1
        while start < colon and not _word(line[start]):
            start += 1
        if colon - start < 2:  # the key needs a word character and at least one more
            position = colon + 1
            continue
        value_start = colon + 1
        while value_start < end and line[value_start].isspace():
            value_start += 1
        value_end = _quoted_end(line, value_start) if value_start < end and line[value_start] == '"' else -1
        if value_end < 0:
            comma = line.find(",", value_start)
            value_end = end if comma < 0 else comma
        pairs.append((line[start:colon], line[value_start:value_end]))
        position = value_end + 1  # past the comma that ends the value
    return pairs
