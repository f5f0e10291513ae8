"""A domain to assess, and the roles it plays for mail."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    """What a domain does with mail: the catalogue's applies-to values."""

    RECEIVING = "receiving"
    SENDING = "sending"
    PARKED = "parked"


@dataclass(frozen=True, slots=True)
class Target:
    """A domain to assess, as the user gave it (normalised to IDNA A-labels)."""

    domain: str
    roles: frozenset[Role] = frozenset()
    dkim_selectors: tuple[str, ...] = ()
    source: str = "command line"
