"""One strict reading of the TOML files a user gives (levels, retired addresses, waivers,
attestations).

``tomllib`` raises :class:`tomllib.TOMLDecodeError` for text that is not TOML, but it parses
arrays and inline tables recursively, so ``x = [[[[...`` a thousand deep raises
:class:`RecursionError` instead. Each file's parser must turn any text into its entries or its
own error naming the file, never a traceback, so both are caught here, once. Their free-text
fields are bounded here too (:func:`text_field`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping
from typing import Any

from pytest_govmail.model.text import inert

__all__ = ["MAX_TEXT", "load_toml", "refuse_unknown", "text_field"]


def load_toml(text: str, where: str, error: type[ValueError]) -> dict[str, Any]:
    """The document ``text`` holds, or ``error`` whose message starts with ``where`` (the
    file's name, already inert)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{where}: not valid TOML: {exc}") from None
    except RecursionError:
        raise error(f"{where}: nested too deeply") from None


#: The longest free text a file may give (a waiver's reason, an attestation's evidence): each is
#: repeated on every test it touches, in the terminal, JUnit and both HTML reports, so a
#: megabyte-long reason would be written a thousand times over.
MAX_TEXT = 1000


def text_field(
    entry: Mapping[str, object],
    key: str,
    where: str,
    error: type[ValueError],
    limit: int = MAX_TEXT,
) -> str:
    """``entry[key]`` as a non-empty string of at most ``limit`` characters, stripped and made
    inert, or ``error`` naming the entry (``where``) and the field."""
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise error(f"{where}: '{key}' must be a non-empty string")
    value = value.strip()
    if len(value) > limit:
        raise error(
            f"{where}: '{key}' is {len(value)} characters long; at most {limit}, nothing longer"
        )
    return inert(value)


def refuse_unknown(
    table: Mapping[str, object],
    allowed: Collection[str],
    where: str,
    error: type[ValueError],
    label: str = "unknown key(s):",
) -> None:
    """``error`` naming ``table``'s keys that are not ``allowed`` (inert, in order), if any:
    a misspelt key is said, never silently ignored."""
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise error(f"{where}: {label} {', '.join(map(inert, unknown))}")
