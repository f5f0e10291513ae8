"""TLSA records (RFC 6698 section 2.1; RFC 7671; RFC 7672 for SMTP): a pure parser.

DANE-01 (:mod:`pytest_govmail.judge.dane`) judges what this reads; the presentation form is the
one DNS answers are recorded in (``3 1 1 ab12...``, RFC 6698 section 2.2).
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_govmail.model.text import show_value

__all__ = ["Tlsa", "parse_tlsa"]


@dataclass(frozen=True, slots=True)
class Tlsa:
    """One TLSA record (RFC 6698 section 2.1): usage, selector, matching type and data."""

    usage: int
    selector: int
    matching_type: int
    data: bytes

    def text(self) -> str:
        shown = self.data.hex()
        shown = shown if len(shown) <= 24 else f"{shown[:24]}..."
        return f"{self.usage} {self.selector} {self.matching_type} {shown}"


def parse_tlsa(text: str) -> Tlsa | str:
    """A TLSA record from its presentation form (``3 1 1 ab12...``), or why it cannot be read.

    The three fields are octets (RFC 6698 section 2.1); the data may be split by white space
    (section 2.2). Never raises: a record from the network that cannot be read is a reason.
    """
    parts = text.split()
    if len(parts) < 4 or not all(p.isdigit() for p in parts[:3]):
        return f"not a TLSA record: {show_value(text, 80)}"
    fields = [int(p) for p in parts[:3]]
    if any(f > 255 for f in fields):
        return f"a TLSA field is out of range: {show_value(text, 80)}"
    try:
        data = bytes.fromhex("".join(parts[3:]))
    except ValueError:
        return f"TLSA data is not hexadecimal: {show_value(text, 80)}"
    return Tlsa(fields[0], fields[1], fields[2], data)
