"""The TOML files a user gives share one strict reading (inputs/toml_input.py): any text gives
entries or the file's own error naming it, never a traceback. ``tomllib`` parses arrays and
inline tables recursively, so a deep nesting raised RecursionError through the waiver and
attestation parsers before they shared the reading."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_govmail.inputs.attestations import AttestationError, parse_attestations
from pytest_govmail.inputs.catalogue import load_catalogue
from pytest_govmail.inputs.levels import LevelsError, parse_levels
from pytest_govmail.inputs.retired_reporting import RetiredError, parse_retired
from pytest_govmail.inputs.waivers import WaiverError, parse_waivers

PARSERS: list[tuple[str, Callable[[str], object], type[ValueError]]] = [
    ("levels", lambda text: parse_levels(text, "f.toml", load_catalogue()), LevelsError),
    ("retired", lambda text: parse_retired(text, "f.toml"), RetiredError),
    ("waivers", lambda text: parse_waivers(text, "f.toml", ["SPF-06"]), WaiverError),
    ("attestations", lambda text: parse_attestations(text, "f.toml"), AttestationError),
]


@pytest.mark.parametrize(("parse", "error"), [p[1:] for p in PARSERS], ids=[p[0] for p in PARSERS])
@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("x = " + "[" * 5000, "f.toml: nested too deeply", id="deep-array"),
        pytest.param("x = " + "{a = " * 5000, "f.toml: nested too deeply", id="deep-table"),
        pytest.param("[[x]\n", "f.toml: not valid TOML", id="not-toml"),
        pytest.param("x = 1\0\n", "f.toml: not valid TOML", id="nul"),
    ],
)
def test_every_user_toml_file_refuses_bad_text_with_its_own_error(
    parse: Callable[[str], object], error: type[ValueError], text: str, message: str
) -> None:
    with pytest.raises(error, match=message):
        parse(text)
