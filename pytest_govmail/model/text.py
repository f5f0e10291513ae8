"""How a value from outside is shown in a message: inert, quoted and bounded.

DNS answers, certificate names and server banners are written by whoever runs the domain, and
the messages that quote them reach terminals, JUnit files and HTML reports. This module sits in
the model so that record parsers (:mod:`pytest_govmail.records`) and judges
(:mod:`pytest_govmail.judge`) can both show such text the same way without one importing the
other. The characters made visible are those of Unicode general categories Cc, Cf, Cs, Co, Cn,
Zl and Zp (Unicode Standard Annex #44, "General_Category Values"): control codes such as the
ESC that starts a terminal escape sequence (ECMA-48), and formatting characters such as the
bidirectional overrides of "Trojan Source" (CVE-2021-42574).
"""

from __future__ import annotations

import unicodedata

__all__ = ["inert", "show_value"]

_LIMIT = 300
#: The general categories whose characters are shown as escapes rather than as themselves.
_HIDDEN = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))


def show_value(text: str, limit: int = _LIMIT) -> str:
    """A value from the network made fit for a message: quoted, bounded, with no control codes.

    DNS data is hostile. It stays plain text (the reporting layer escapes it for HTML), but
    control and formatting characters (terminal escapes, bidi overrides) are shown as ``\\x1b``
    or ``\\u202e``, and text over ``limit`` characters is cut with a note of its full length.
    """
    head = text[:limit]
    # Printable text (most records) has nothing to show differently: skip the walk (see inert).
    shown = head if head.isprintable() else "".join(map(_visible, head))
    more = f"... ({len(text)} characters in all)" if len(text) > limit else ""
    return f'"{shown}"{more}'


def inert(text: str) -> str:
    """``text`` with every control and formatting character shown as its escape, unquoted and
    unbounded: for lines that already say what they quote (a banner, a certificate subject, a
    waiver's reason) on the way to a terminal, a JUnit file or a report."""
    # str.isprintable() is false for every character of Unicode's "Other" and "Separator"
    # categories but the ASCII space, which takes in every hidden category: printable text,
    # ASCII or not, has nothing to show differently.
    return text if text.isprintable() else "".join(map(_visible, text))


def _visible(ch: str) -> str:
    """``ch`` itself, or its Python escape when it is a control or formatting character."""
    if unicodedata.category(ch) not in _HIDDEN:
        return ch
    code = ord(ch)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else (f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    )
