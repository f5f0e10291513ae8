"""How the HTML report is put out: its static assets, the hashes its Content-Security-Policy
allows them by, the escaping of every value it shows, JSON that is safe inside a script
element, and writing the page in chunks.

Apart from :mod:`pytest_govmail.reports.page`, which renders what the page says, so that the
sweep's merge (:mod:`pytest_govmail.sweep.merge`) and the page share one careful writer.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from functools import cache
from html import escape
from importlib import resources
from pathlib import Path


def esc(value: object) -> str:
    """Text as HTML text or as a quoted attribute value (quotes escaped too): the one escaping
    of both HTML reports and of the changes section the sweep's merge writes."""
    return escape(str(value), quote=True)


def write_chunks(path: Path, chunks: Iterable[str]) -> int:
    """Write the page piece by piece (a large one is never one string), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8", errors="backslashreplace", newline="\n") as out:
        for chunk in chunks:
            out.write(chunk)
    size = partial.stat().st_size
    partial.replace(path)
    return size


@cache
def asset(name: str) -> str:
    """A static file of the page (its CSS, its script), read once from the package."""
    return resources.files("pytest_govmail.reports").joinpath("assets", name).read_text("utf-8")


def csp_hash(text: str) -> str:
    """The Content-Security-Policy source that allows exactly this inline script or style."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def json_for_script(value: object) -> str:
    """JSON that is safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&``.

    ``ensure_ascii`` also escapes U+2028/2029 and lone surrogates (a TXT record can hold any
    bytes), and the three characters that could end the element or start a comment are written
    as ``\\u`` escapes, which ``JSON.parse`` reads back unchanged.
    """
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
