"""pingd.textsafe: the escaping every alert and CLI listing goes through."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pingd.textsafe import escape_char
from pingd.textsafe import for_terminal
from pingd.textsafe import for_text
from pingd.textsafe import has_unsafe
from pingd.textsafe import is_unsafe
from pingd.textsafe import one_line

UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def unsafe_in(text: str, allow: str = "") -> list[str]:
    """Every character of text that a terminal or a header could act on (by category)."""
    return [c for c in text if c not in allow and unicodedata.category(c) in UNSAFE_CATEGORIES]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Nightly backup", "Nightly backup"),
        ("C:\\backup\\x1b", "C:\\backup\\x1b"),  # backslashes stay as they are
        ("a\r\nBcc: evil@example.org", "a\\r\\nBcc: evil@example.org"),
        ("\x1b[2J\x00", "\\x1b[2J\\x00"),
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
        ("\x9b31m", "\\x9b31m"),
        ("ab\x08\x08cd\x7f", "ab\\x08\\x08cd\\x7f"),
        ("tab\there", "tab\\there"),
        ("bi\u202edi", "bi\\u202edi"),
        ("iso\u2066late\u2069 zw\u200bj \ufeff", "iso\\u2066late\\u2069 zw\\u200bj \\ufeff"),
        ("line\u2028para\u2029nel\x85", "line\\u2028para\\u2029nel\\x85"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("lone \ud800", "lone \\ud800"),
        ("café ü 日本 🙂 \u00a0nbsp", "café ü 日本 🙂 \u00a0nbsp"),  # printable or harmless
    ],
)
def test_it_shows_every_control_and_format_character_escaped_on_a_terminal(
    text: str, shown: str
) -> None:
    assert for_terminal(text) == shown


def test_it_writes_escapes_the_way_python_does() -> None:
    assert [escape_char(c) for c in "\n\r\t\x00\x1b\x7f\x9b\u202e\U000e0001"] == [
        "\\n", "\\r", "\\t", "\\x00", "\\x1b", "\\x7f", "\\x9b", "\\u202e", "\\U000e0001",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a\r\nBcc: evil@example.org", "a Bcc: evil@example.org"),
        ("  lead\n\n\ttrail \r", "lead trail"),
        ("vt\x0bff\x0cnel\x85ls\u2028ps\u2029end", "vt ff nel ls ps end"),
        ("x\x00y\x1b[2J\u202e", "x\\x00y\\x1b[2J\\u202e"),
        ("=?utf-8?q?x=0D=0A?=", "=?utf-8?q?x=0D=0A?="),  # text; email.py encodes it
    ],
)
def test_it_makes_one_line_of_whitespace_and_escapes_the_rest(text: str, line: str) -> None:
    assert one_line(text) == line


def test_it_keeps_lines_and_tabs_of_a_body_and_escapes_the_rest() -> None:
    body = "step 1\r\nstep 2\rstep 3\n\tdone \x1b[32mOK\x1b[0m\x00\u2028"
    assert for_text(body) == "step 1\nstep 2\nstep 3\n\tdone \\x1b[32mOK\\x1b[0m\\x00\\u2028"


def test_it_tells_whether_text_holds_an_unsafe_character() -> None:
    assert not has_unsafe("Bearer abc.def")
    assert has_unsafe("a\tb") and not has_unsafe("a\tb", allow="\t")
    assert has_unsafe("a\r\n b") and has_unsafe("\u202e") and has_unsafe("\x9b")
    assert not is_unsafe(" ") and not is_unsafe("\u00a0") and is_unsafe("\x00")


@given(st.text())
def test_it_leaves_no_unsafe_character_in_anything(text: str) -> None:
    assert unsafe_in(for_terminal(text)) == []
    assert unsafe_in(one_line(text)) == []
    assert "\n" not in one_line(text) and "\r" not in one_line(text)
    assert unsafe_in(for_text(text), allow="\n\t") == []
    assert "\r" not in for_text(text)


@given(st.text(st.characters(categories=["L", "M", "N", "P", "S"])))
def test_it_leaves_printable_text_unchanged(text: str) -> None:
    assert for_terminal(text) == text
    assert for_text(text) == text
