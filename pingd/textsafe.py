"""Make outside text harmless where pingd shows or sends it.

Check names, tags and ping bodies are free text from whoever holds a key or a
ping URL. They may hold line breaks, NUL, terminal escape sequences (ESC [,
OSC ``ESC ] ... BEL``, the one-byte CSI U+009B), backspace, DEL, or Unicode
format characters such as the bidi override U+202E. None of that may move a
terminal's cursor, add a header to an email or an HTTP request, or reorder
what a reader sees, so such characters are shown escaped, the way Python
writes them: ``\\n``, ``\\x1b``, ``\\u202e``. Backslashes themselves are left as
they are, so ordinary text (``C:\\backup``) reads unchanged.

Standard library only.
"""

from __future__ import annotations

import unicodedata

_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Control (Cc), format (Cf: bidi overrides and isolates, zero-width characters),
# lone surrogates (Cs) and the line and paragraph separators (Zl, Zp).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def is_unsafe(char: str) -> bool:
    """Tell whether one character could control a terminal or break a line or header."""
    if char.isprintable() or char == " ":
        return False
    return unicodedata.category(char) in _UNSAFE_CATEGORIES


def escape_char(char: str) -> str:
    """Write one character as a visible escape: ``\\n``, ``\\x1b``, ``\\u202e``, ``\\U000e0001``."""
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _escape(text: str, keep: str = "") -> str:
    if text.isprintable():  # The common case: nothing to look at twice.
        return text
    return "".join(
        escape_char(char) if char not in keep and is_unsafe(char) else char for char in text
    )


def for_terminal(text: str) -> str:
    """Return text safe to print on a terminal: every unsafe character escaped, newlines too."""
    return _escape(text)


def one_line(text: str) -> str:
    """Return text as one safe line, for a title, an email Subject or an HTTP header value.

    Runs of whitespace, line breaks included (CR, LF, VT, FF, U+0085, U+2028,
    U+2029), become one space and the ends are trimmed; any other unsafe
    character is escaped.
    """
    return _escape(" ".join(text.split()))


def for_text(text: str) -> str:
    """Return multi-line text safe for a message body: lines and tabs kept, the rest escaped.

    CR LF and a lone CR become LF, so a job's output from Windows or a progress
    bar still reads as lines.
    """
    return _escape(text.replace("\r\n", "\n").replace("\r", "\n"), keep="\n\t")


def has_unsafe(text: str, *, allow: str = "") -> bool:
    """Tell whether text holds any unsafe character other than those in ``allow``."""
    return not text.isprintable() and any(is_unsafe(char) for char in text if char not in allow)
