r"""Java `.properties` files: read as java.util.Properties does, update keys in place.

`ConnectorServer.properties` is the file RCS operators know (docs/openicf.md §2.1); they edit it by
hand, comment it, and expect a tool that changes `connectorserver.key` to leave every other line
alone. So updates do not re-serialize a parsed dictionary (that is what `Properties.store` does, and
it drops comments and order): they replace the text of one value where it stands.

The grammar is the one in the `java.util.Properties.load(Reader)` javadoc:

- a natural line ends at `\n`, `\r` or `\r\n`; a logical line continues onto the next natural line
  when it ends with an odd number of backslashes; leading white space (space, tab, form feed) of
  every natural line is dropped;
- a line whose first non-blank character is `#` or `!` is a comment (and never continues);
- the key runs up to the first unescaped `=`, `:` or white space; then white space, at most one
  `=` or `:`, and white space again are skipped; the rest of the line is the value;
- in keys and values `\t \n \r \f` and `\uXXXX` are escapes, and a backslash before any other
  character stands for that character; a malformed `\uXXXX` is an error;
- a key given twice keeps its last value.

Files are decoded as UTF-8, falling back to ISO-8859-1 as Java's PropertyResourceBundle does since
Java 9, and written back in the encoding they were read in; what we write is ASCII (`\uXXXX` for
anything else), which both encodings read the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from server.atomicfile import locked, write_atomic

__all__ = ["PropertiesError", "load", "loads", "update", "update_text"]

_BLANK = " \t\f"
_TERMINATOR = re.compile(r"\r\n|\r|\n")
_SIMPLE_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_WRITE_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f", "\\": "\\\\"}


class PropertiesError(ValueError):
    """A properties file that java.util.Properties would refuse too (a malformed \\uXXXX)."""


@dataclass(frozen=True, slots=True)
class _Entry:
    key: str
    value: str
    value_start: int
    """Offset in the text where the value's raw text starts (or the line's end if empty)."""
    end: int
    """Offset of the end of the logical line, before its line terminator."""
    bare: bool
    """The line is a key alone, with no separator: setting a value must add one."""


def loads(text: str) -> dict[str, str]:
    """Parse the text of a properties file into a dictionary (the last of duplicate keys wins)."""
    return {entry.key: entry.value for entry in _entries(text)}


def load(path: Path) -> dict[str, str]:
    """Read and parse a properties file."""
    text, _ = _read(path)
    try:
        return loads(text)
    except PropertiesError as error:
        raise PropertiesError(f"{path}: {error}") from None


def update_text(text: str, updates: Mapping[str, str]) -> str:
    """Return `text` with the values of `updates` set, every other character left as it was.

    A key present once or more has each of its values replaced in place (keeping its indentation
    and separator); a key absent is appended at the end, in the order given, with `=`.
    """
    pieces: list[str] = []
    position = 0
    seen: set[str] = set()
    for entry in _entries(text):
        if entry.key in updates:
            pieces.append(text[position : entry.value_start])
            if entry.bare:
                pieces.append("=")
            pieces.append(_escape_value(updates[entry.key]))
            position = entry.end
            seen.add(entry.key)
    pieces.append(text[position:])
    result = "".join(pieces)
    missing = [key for key in updates if key not in seen]
    if missing:
        newline = _newline_of(text)
        if result and not result.endswith(("\n", "\r")):
            result += newline
        tail = result.removesuffix("\n").removesuffix("\r")
        if _continues(tail[max(tail.rfind("\n"), tail.rfind("\r")) + 1 :]):
            result += newline  # a blank line ends the dangling continuation first
        for key in missing:
            result += f"{_escape_key(key)}={_escape_value(updates[key])}{newline}"
    return result


def update(path: Path, updates: Mapping[str, str], *, mode: int = 0o600) -> None:
    """Set keys in a properties file in place, crash-safely (see `server.atomicfile`).

    Concurrent updaters of one file, in this process or another, are serialized. A file that
    does not exist yet is created with `mode` (default 0o600: it holds the key hash).
    """
    with locked(path):
        try:
            text, encoding = _read(path)
        except FileNotFoundError:
            text, encoding = "", "utf-8"
        try:
            new_text = update_text(text, updates)
        except PropertiesError as error:
            raise PropertiesError(f"{path}: {error}") from None
        write_atomic(path, new_text.encode(encoding), mode=mode)


def _read(path: Path) -> tuple[str, str]:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("iso-8859-1"), "iso-8859-1"


def _newline_of(text: str) -> str:
    match = _TERMINATOR.search(text)
    return match.group(0) if match else "\n"


@dataclass(slots=True)
class _Piece:
    """One natural line's share of a logical line: where its content sits in text and in line."""

    line_offset: int
    text_offset: int


def _entries(text: str) -> Iterator[_Entry]:
    """Yield the key/value entries of the text, with the offsets an in-place update needs."""
    pending: list[str] = []
    pieces: list[_Piece] = []
    length = 0
    first_line = 0
    last_stop = 0
    for number, (start, stop) in enumerate(_natural_lines(text), start=1):
        stripped = text[start:stop].lstrip(_BLANK)
        if length == 0:
            # A new logical line, or one whose continued part so far is empty: Java 9+ then
            # treats `#`/`!` as a comment and skips an empty line (Properties.LineReader).
            pending, pieces = [], []
            if not stripped or stripped[0] in "#!":
                continue
            first_line = number
        continues = _continues(stripped)
        body = stripped[:-1] if continues else stripped
        pieces.append(_Piece(length, stop - len(stripped)))
        pending.append(body)
        length += len(body)
        last_stop = stop
        if not continues:
            if length:
                yield _split("".join(pending), pieces, stop, first_line)
            pending, pieces, length = [], [], 0
    # The file ended inside a continued line. Java (LineReader.readLine) then keeps even an
    # empty one, as an empty key, unless a CRLF followed the backslash: it checks for the end
    # of the file right after the first terminator character only.
    if length or (pending and not text.endswith("\r\n")):
        yield _split("".join(pending), pieces, last_stop, first_line)


def _continues(line: str) -> bool:
    return (len(line) - len(line.rstrip("\\"))) % 2 == 1


def _natural_lines(text: str) -> Iterator[tuple[int, int]]:
    """Yield (start, stop) of each natural line's content, without its terminator."""
    position = 0
    while position < len(text):
        match = _TERMINATOR.search(text, position)
        if match is None:
            yield position, len(text)
            return
        yield position, match.start()
        position = match.end()


def _split(line: str, pieces: list[_Piece], end: int, number: int) -> _Entry:
    # Properties.load0: the key ends at the first unescaped separator or blank.
    key_length = 0
    value_start = len(line)
    has_separator = False
    backslash = False
    while key_length < len(line):
        char = line[key_length]
        if char in "=:" and not backslash:
            value_start = key_length + 1
            has_separator = True
            break
        if char in _BLANK and not backslash:
            value_start = key_length + 1
            break
        backslash = not backslash if char == "\\" else False
        key_length += 1
    while value_start < len(line):
        char = line[value_start]
        if char not in _BLANK:
            if not has_separator and char in "=:":
                has_separator = True
            else:
                break
        value_start += 1
    try:
        key = _unescape(line[:key_length])
        value = _unescape(line[value_start:])
    except PropertiesError as error:
        raise PropertiesError(f"line {number}: {error}") from None
    return _Entry(
        key, value, _text_offset(pieces, value_start, end), end, value_start == key_length
    )


def _text_offset(pieces: list[_Piece], index: int, end: int) -> int:
    """Map an index in the joined logical line back to an offset in the file's text."""
    for piece in reversed(pieces):
        if index >= piece.line_offset:
            offset = piece.text_offset + index - piece.line_offset
            return min(offset, end)
    return end


def _unescape(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        i += 1
        if char != "\\":
            out.append(char)
            continue
        if i >= len(raw):
            break  # a lone trailing backslash (only possible at the end of the file) is dropped
        char = raw[i]
        i += 1
        if char == "u":
            digits = raw[i : i + 4]
            if len(digits) != 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise PropertiesError("malformed \\uxxxx encoding")
            out.append(chr(int(digits, 16)))
            i += 4
        else:
            out.append(_SIMPLE_ESCAPES.get(char, char))
    text = "".join(out)
    # \uXXXX escapes are UTF-16 code units, as Java chars are: join surrogate pairs.
    try:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError:
        return text


def _escape(text: str, *, is_key: bool) -> str:
    out: list[str] = []
    for index, char in enumerate(text):
        if char in _WRITE_ESCAPES:
            out.append(_WRITE_ESCAPES[char])
        elif char == " " and (is_key or index == 0):
            out.append("\\ ")
        elif is_key and char in "=:#!":
            out.append("\\" + char)
        elif " " <= char <= "~":
            out.append(char)
        else:
            units = char.encode("utf-16-be", "surrogatepass")
            out.extend(f"\\u{units[i] << 8 | units[i + 1]:04X}" for i in range(0, len(units), 2))
    return "".join(out)


def _escape_key(key: str) -> str:
    return _escape(key, is_key=True)


def _escape_value(value: str) -> str:
    # Unlike Properties.store, `=`, `:`, `#` and `!` are left bare in values: the reader does not
    # need them escaped, and a Base64 key hash stays readable.
    return _escape(value, is_key=False)
