"""Names made safe for a terminal. Pure.

Keys come from a bucket and file names from a disk: either may hold bytes that a terminal
obeys (``ESC ] 0 ; title BEL`` retitles the window, ``ESC [ 2 J`` clears it, a newline
forges an output line, U+202E shows text backwards). Human-readable output shows them
escaped, in the manner of GNU ``ls --quoting-style=escape``:

* ``\\`` for a backslash, so that the output stays unambiguous;
* ``\\a \\b \\t \\n \\v \\f \\r`` for those controls;
* ``\\ooo`` (three octal digits of the code point) for the other C0 controls, DEL and the C1
  controls U+0080-U+009F (``ESC`` is ``\\033``);
* ``\\uXXXX`` for the Unicode bidi controls (U+061C, U+200E, U+200F, U+202A-U+202E,
  U+2066-U+2069), the line and paragraph separators U+2028/U+2029 and lone surrogates
  (``os.fsdecode`` of bytes that are not UTF-8, which a UTF-8 stream could not even write).

Everything else, printable Unicode and spaces included, is shown as it is. The mapping is
injective: every escape starts with a backslash and a literal backslash is doubled, so
two different names never look the same.
"""

from __future__ import annotations

import re

__all__ = ["escape", "escape_tail"]

_NAMED = {"\\": "\\\\", "\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r"}
_UNSAFE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def _one(c: str) -> str:
    named = _NAMED.get(c)
    if named is not None:
        return named
    cp = ord(c)
    return f"\\{cp:03o}" if cp <= 0x9F else f"\\u{cp:04x}"


def escape(s: str) -> str:
    """``s`` with every character a terminal could act on written as a visible escape."""
    if not _UNSAFE.search(s):  # the common case: nothing to do
        return s
    return _UNSAFE.sub(lambda m: _one(m.group()), s)


def escape_tail(s: str, width: int) -> str:
    """The end of ``escape(s)`` in at most ``width`` characters (``width`` >= 4), with ``...``
    in front when cut. It is cut only between escapes, never inside one, so what is shown
    is still unambiguous."""
    e = escape(s)
    if len(e) <= width:
        return e
    room = width - 3
    tokens: list[str] = []
    used = 0
    for c in reversed(s):
        t = _one(c) if _UNSAFE.match(c) else c
        if used + len(t) > room:
            break
        tokens.append(t)
        used += len(t)
    return "..." + "".join(reversed(tokens))
