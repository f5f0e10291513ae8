"""show_value: text off the network, shown bounded and with every control character visible."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pytest_govmail.model.text import _LIMIT, _visible, inert, show_value


def _by_hand(text: str, limit: int) -> str:
    """The definition, one character at a time (show_value skips the walk for printable text)."""
    more = f"... ({len(text)} characters in all)" if len(text) > limit else ""
    return '"' + "".join(_visible(ch) for ch in text[:limit]) + '"' + more


@given(st.text(), st.integers(min_value=0, max_value=400))
def test_same_as_character_by_character(text: str, limit: int) -> None:
    assert show_value(text, limit) == _by_hand(text, limit)


def test_every_printable_character_is_shown_as_itself() -> None:
    """The fast path's ground: str.isprintable() is false for every hidden category, so text
    it calls printable walks to itself. Checked over every code point of this Python's
    Unicode database."""
    for code in range(0x110000):
        ch = chr(code)
        if ch.isprintable():
            assert _visible(ch) == ch, hex(code)


@given(st.text())
def test_inert_is_the_walk_without_quotes_or_bounds(text: str) -> None:
    assert inert(text) == "".join(map(_visible, text))


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_controls_are_escaped(text: str) -> None:
    shown = show_value(text)
    assert shown == _by_hand(text, _LIMIT)
    assert not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in shown)


def test_examples() -> None:
    assert show_value("v=spf1 -all") == '"v=spf1 -all"'
    assert show_value("a\x1b[31mb") == '"a\\x1b[31mb"'
    assert show_value("x" * 5, 3) == '"xxx"... (5 characters in all)'
