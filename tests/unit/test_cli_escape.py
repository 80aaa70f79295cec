"""Escaping names for the terminal (GNU ls --quoting-style=escape, extended to Unicode)."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import example, given
from hypothesis import strategies as st

from s3kit.cli.escape import escape, escape_tail

# What must never reach a terminal raw: C0 controls, DEL, C1 controls, the Unicode bidi
# controls that reorder what is shown, line/paragraph separators, and lone surrogates
# (undecodable bytes of local file names, which would also crash a UTF-8 write).
FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")

_C = {"\\": "\\", "a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r"}


def unescape(s: str) -> str:
    """The inverse of escape(), written independently: that it exists proves escape() injective."""
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c != "\\":
            out.append(c)
            i += 1
        elif s[i + 1] in _C:
            out.append(_C[s[i + 1]])
            i += 2
        elif s[i + 1] == "u":
            out.append(chr(int(s[i + 2:i + 6], 16)))
            i += 6
        else:
            assert re.fullmatch("[0-3][0-7][0-7]", s[i + 1:i + 4]), s[i:]
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
    return "".join(out)


def test_examples() -> None:
    assert escape("plain name.txt") == "plain name.txt"
    assert escape("ünï/κλειδί.txt") == "ünï/κλειδί.txt"  # printable Unicode is shown as it is
    assert escape("evil\x1b]0;pwned\x07\x1b[2J.txt") == "evil\\033]0;pwned\\a\\033[2J.txt"
    assert escape("two\nlines\r\tx") == "two\\nlines\\r\\tx"
    assert escape("back\\slash") == "back\\\\slash"  # a backslash is escaped too: unambiguous
    assert escape("nul\x00del\x7fcsi\x9b") == "nul\\000del\\177csi\\233"
    assert escape("\b\v\f") == "\\b\\v\\f"
    assert escape("bidi\u202eexe.txt") == "bidi\\u202eexe.txt"
    assert escape("\u2066\u2069\u200e\u061c\u2028") == "\\u2066\\u2069\\u200e\\u061c\\u2028"
    assert escape("bad\udcff") == "bad\\udcff"  # os.fsdecode of an undecodable byte
    assert escape("[red]x[/red] :smile:") == "[red]x[/red] :smile:"  # markup is the display's business


def test_escape_tail_cuts_only_between_escapes() -> None:
    assert escape_tail("short", 10) == "short"
    long = "d/" * 30 + "\x1b" * 3 + "end"
    t = escape_tail(long, 20)
    assert t.startswith("...") and t.endswith("\\033\\033\\033end") and len(t) <= 20
    t = escape_tail("x" * 40 + "\x1b" + "y" * 8, 12)  # "\\033" does not fit whole after "...": left out
    assert t == "..." + "y" * 8 and "\\" not in t
    assert escape_tail("\n" * 100, 11) == "..." + "\\n" * 4


@given(st.text())
@example("\\033")  # a literal backslash-escape in a name stays distinguishable from ESC
@example("\x1b")
@example("\\\x1b\\n\n")
def test_output_is_safe_and_escaping_is_injective(s: str) -> None:
    e = escape(s)
    assert not FORBIDDEN.search(e)
    assert unescape(e) == s  # so different names never look the same


@given(st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=30).filter(
    lambda s: "\\" not in s and not FORBIDDEN.search(s)))
def test_safe_text_is_unchanged(s: str) -> None:
    assert escape(s) == s


@given(st.text(), st.integers(min_value=4, max_value=60))
def test_escape_tail_is_a_safe_suffix(s: str, width: int) -> None:
    t = escape_tail(s, width)
    assert not FORBIDDEN.search(t)
    if len(escape(s)) <= width:
        assert t == escape(s)
    else:
        assert t.startswith("...") and len(t) <= width and escape(s).endswith(t[3:])


def test_every_escaped_character_is_not_printable_or_a_backslash() -> None:
    for cp in range(0x3000):
        c = chr(cp)
        if escape(c) != c:
            assert c == "\\" or not c.isprintable() or unicodedata.category(c) in ("Cf", "Zl", "Zp"), hex(cp)
