"""Java .properties: parsing as java.util.Properties does, and updating values in place."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.properties import PropertiesError, load, loads, update, update_text

# Each expected result was produced by java.util.Properties.load(Reader) on OpenJDK 17.
JAVA_CASES: list[tuple[str, str, dict[str, str]]] = [
    ("basic", "a=1\nb:2\nc 3\n", {"a": "1", "b": "2", "c": "3"}),
    ("spaces around", "  key  =  value with spaces  \n", {"key": "value with spaces  "}),
    ("comments", "# c=1\n! d=2\n  # e=3\nf=4\n", {"f": "4"}),
    (
        "continuation",
        "list = one, \\\n       two, \\\n       three\n",
        {"list": "one, two, three"},
    ),
    ("even backslashes", "path=C:\\\\dir\\\\\nnext=1\n", {"path": "C:\\dir\\", "next": "1"}),
    (
        "escapes",
        "tab=a\\tb\nuni=\\u00e9\\u20AC\nother=\\q\\=\\:\n",
        {"tab": "a\tb", "uni": "é€", "other": "q=:"},
    ),
    ("escaped key", "my\\ key\\:x=v\n", {"my key:x": "v"}),
    ("double separator", "k==v\nk2 : = v2\n", {"k": "=v", "k2": "= v2"}),
    ("key alone", "alone\n", {"alone": ""}),
    ("duplicate keeps last", "d=1\nd=2\n", {"d": "2"}),
    ("crlf", "a=1\r\nb=2\r\n", {"a": "1", "b": "2"}),
    ("cr", "a=1\rb=2\r", {"a": "1", "b": "2"}),
    ("comment never continues", "# comment \\\nx=1\n", {"x": "1"}),
    ("hash in value", "v=a#b!c\n", {"v": "a#b!c"}),
    ("surrogate pair", "emoji=\\uD83D\\uDE00\n", {"emoji": "😀"}),
    ("blank line ends continuation", "a=1\\\n\nb=2\n", {"a": "1", "b": "2"}),
    ("empty continuation then comment", "\\\n#x=1\ny=2\n", {"y": "2"}),
    ("form feed is blank", "\fk\f=\fv\n", {"k": "v"}),
    ("empty values", "e=\ne2:\n", {"e": "", "e2": ""}),
    ("escaped leading space", "s=\\  x\n", {"s": "  x"}),
    ("no final newline", "a=1", {"a": "1"}),
    ("lone backslash at end", "\\", {"": ""}),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in JAVA_CASES], ids=[c[0] for c in JAVA_CASES]
)
def test_parses_as_java_does(text: str, expected: dict[str, str]) -> None:
    assert loads(text) == expected


def test_malformed_unicode_escape_names_the_line() -> None:
    with pytest.raises(PropertiesError, match="line 2: malformed"):
        loads("a=1\nb=\\u12g4\n")


def test_update_keeps_every_other_line() -> None:
    text = (
        "# The Java RCS's sample\n"
        "connectorserver.port=8759\n"
        "\n"
        "! keep me\n"
        "connectorserver.key   =   lmA6bMfENJGlIDbfrVtklXFK32s=\n"
        "connectorserver.usessl=false\n"
    )
    updated = update_text(text, {"connectorserver.key": "scrypt$15$8$1$c2FsdA==$aGFzaA=="})
    assert updated == text.replace(
        "lmA6bMfENJGlIDbfrVtklXFK32s=", "scrypt$15$8$1$c2FsdA==$aGFzaA=="
    )


def test_update_replaces_a_continued_value_whole() -> None:
    text = "a = one \\\n    two\nb=2\n"
    assert update_text(text, {"a": "x"}) == "a = x\nb=2\n"


def test_update_appends_absent_keys_in_order_with_the_files_newline() -> None:
    text = "a=1\r\nb=2"
    assert update_text(text, {"z": "26", "y": "25"}) == "a=1\r\nb=2\r\nz=26\r\ny=25\r\n"
    assert update_text("", {"k": "v"}) == "k=v\n"


def test_update_adds_a_separator_to_a_bare_key() -> None:
    assert update_text("alone\nnext=1\n", {"alone": "v"}) == "alone=v\nnext=1\n"


def test_update_escapes_what_must_be_escaped() -> None:
    updates = {"we:ird key": "  lead\\ing\ttab é 😀 #=!:"}
    text = update_text("", updates)
    assert text.isascii()
    assert loads(text) == updates


def test_update_every_occurrence_of_a_duplicate() -> None:
    assert update_text("d=1\nd=2\n", {"d": "3"}) == "d=3\nd=3\n"


def test_update_after_a_dangling_continuation() -> None:
    assert loads(update_text("a=1\\", {"b": "2"})) == {"a": "1", "b": "2"}


_ALPHABET = st.sampled_from(["a", "b", " ", "\t", "=", ":", "#", "!", "\\", "\n", "\r\n", "é"])
_TEXTS = st.lists(_ALPHABET, max_size=40).map("".join)
_WORDS = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters=""), min_size=1, max_size=12
)


@given(_TEXTS, st.dictionaries(_WORDS, st.text(max_size=12), max_size=3))
def test_update_sets_exactly_the_updates(text: str, updates: dict[str, str]) -> None:
    try:
        before = loads(text)
    except PropertiesError:
        return
    if "" in before and text.rstrip("\r\n").endswith("\\"):
        # Java reads an empty key from a file ending in a lone backslash (and newline); no text
        # appended after it can keep that quirk.
        return
    assert loads(update_text(text, updates)) == before | updates


def test_update_file_crash_safely_and_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "ConnectorServer.properties"
    path.write_text("# hand written\nconnectorserver.port=8759\n", encoding="utf-8")
    path.chmod(0o640)
    update(path, {"connectorserver.key": "k", "connectorserver.port": "9000"})
    assert path.read_text(encoding="utf-8") == (
        "# hand written\nconnectorserver.port=9000\nconnectorserver.key=k\n"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert load(path) == {"connectorserver.port": "9000", "connectorserver.key": "k"}
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_update_creates_a_missing_file_private(tmp_path: Path) -> None:
    path = tmp_path / "new.properties"
    update(path, {"connectorserver.key": "k"})
    assert load(path) == {"connectorserver.key": "k"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_latin1_file_stays_latin1(tmp_path: Path) -> None:
    path = tmp_path / "latin1.properties"
    path.write_bytes("# caf\xe9\nname=caf\xe9\n".encode("iso-8859-1"))
    assert load(path) == {"name": "café"}
    update(path, {"other": "ü"})
    assert path.read_bytes() == "# caf\xe9\nname=caf\xe9\nother=\\u00FC\n".encode("iso-8859-1")


def test_load_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.properties"
    path.write_text("x=\\u00\n", encoding="utf-8")
    with pytest.raises(PropertiesError, match=r"bad\.properties: line 1"):
        load(path)
