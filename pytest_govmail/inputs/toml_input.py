"""One strict reading of the TOML files a user gives (levels, retired addresses, waivers,
attestations).

``tomllib`` raises :class:`tomllib.TOMLDecodeError` for text that is not TOML, but it parses
arrays and inline tables recursively, so ``x = [[[[...`` a thousand deep raises
:class:`RecursionError` instead. Each file's parser must turn any text into its entries or its
own error naming the file, never a traceback, so both are caught here, once.
"""

from __future__ import annotations

import tomllib
from typing import Any

__all__ = ["load_toml"]


def load_toml(text: str, where: str, error: type[ValueError]) -> dict[str, Any]:
    """The document ``text`` holds, or ``error`` whose message starts with ``where`` (the
    file's name, already inert)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{where}: not valid TOML: {exc}") from None
    except RecursionError:
        raise error(f"{where}: nested too deeply") from None
