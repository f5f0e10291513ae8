"""The user's own catalogue inputs: a levels file and retired report addresses, hostile included.

Both files are the user's, so both are parsed strictly and their texts kept inert: every
malformed shape names the file and the entry, and nothing a file says can reach a report as a
control character. The packaged retired list holds NCSC Mail Check's addresses as GOV.UK,
security.gov.uk and Mail Check's own code published them.
"""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_govmail.inputs.catalogue import Catalogue, CatalogueError, Level, load_catalogue
from pytest_govmail.inputs.levels import LevelsError, apply_levels, parse_levels
from pytest_govmail.inputs.retired_reporting import (
    MAX_ENTRIES,
    RetiredError,
    packaged_retired,
    parse_retired,
    retired_from_input,
)
from pytest_govmail.records.dmarc import parse_report_uri


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


# --- levels ---------------------------------------------------------------------------------

LEVELS = """\
[requirement.DMARC-03]
level = "must"
reason = "Board decision 2026-07: every domain at p=reject"

[requirement.TLS-08]
level = "advisory"
reason = "Gateway vendor ships TLS 1.3 in Q3 (RISK-112)"
"""


def test_a_levels_file_tightens_and_relaxes(catalogue: Catalogue) -> None:
    changes = parse_levels(LEVELS, "levels.toml", catalogue)
    assert [(c.requirement, c.catalogue_level, c.level) for c in changes] == [
        ("DMARC-03", Level.SHOULD, Level.MUST),
        ("TLS-08", Level.SHOULD, Level.ADVISORY),
    ]
    assert changes[0].source == "levels.toml"
    ours = apply_levels(catalogue, ("levels.toml", LEVELS))
    assert ours["DMARC-03"].level is Level.MUST and ours["TLS-08"].level is Level.ADVISORY
    assert ours.level_changes == changes
    assert catalogue["DMARC-03"].level is Level.SHOULD, "the packaged catalogue is untouched"
    assert ours["DMARC-03"].level_source == catalogue["DMARC-03"].level_source
    assert apply_levels(catalogue, None) is catalogue
    assert "DMARC-03: should -> must (Board decision" in changes[0].describe()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("[requirement.DMARC-03\n", "not valid TOML", id="toml"),
        pytest.param("levels = {}\n", "unknown key", id="top-level"),
        pytest.param('requirement = "DMARC-03"\n', "must hold", id="not-tables"),
        pytest.param(
            '[requirement.DMARC-99]\nlevel = "must"\nreason = "x"\n',
            "no requirement 'DMARC-99'",
            id="unknown-id",
        ),
        pytest.param(
            '[requirement.DMARC-07]\nlevel = "must"\nreason = "x"\n',
            "DMARC-07 was withdrawn on 2026-03-31",
            id="withdrawn",
        ),
        pytest.param(
            '[requirement.DMARC-03]\nlevel = "mandatory"\nreason = "x"\n',
            "'level' must be one of must, should, advisory",
            id="level-word",
        ),
        pytest.param(
            '[requirement.DMARC-03]\nlevel = 1\nreason = "x"\n', "'level' must be", id="level-type"
        ),
        pytest.param(
            '[requirement.DMARC-03]\nlevel = "should"\nreason = "x"\n',
            "already should",
            id="no-change",
        ),
        pytest.param(
            '[requirement.DMARC-03]\nlevel = "must"\n', "'reason' must say why", id="no-reason"
        ),
        pytest.param(
            '[requirement.DMARC-03]\nlevel = "must"\nreason = "  "\n',
            "'reason' must say why",
            id="blank-reason",
        ),
        pytest.param(
            '[requirement.DMARC-03]\nlevel = "must"\nreason = "' + "x" * 301 + '"\n',
            "longer than 300",
            id="long-reason",
        ),
        pytest.param(
            '[requirement.DMARC-03]\nlevel = "must"\nreason = "x"\nexpires = 2027-01-01\n',
            "unknown key(s): expires",
            id="unknown-field",
        ),
        pytest.param('[requirement]\nDMARC-03 = "must"\n', "must be a table", id="flat"),
    ],
)
def test_bad_levels_files_name_the_entry(catalogue: Catalogue, text: str, message: str) -> None:
    with pytest.raises(LevelsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_levels(text, "levels.toml", catalogue)


def test_a_levels_file_is_shown_inert(catalogue: Catalogue) -> None:
    text = '[requirement.DMARC-03]\nlevel = "must"\nreason = "ok\\u001b[2J\\u202e then"\n'
    (change,) = parse_levels(text, "lev\x1bels.toml", catalogue)
    assert "\x1b" not in change.reason and "\u202e" not in change.reason
    assert "\\x1b[2J\\u202e" in change.reason
    assert "\x1b" not in change.source
    with pytest.raises(LevelsError) as caught:
        parse_levels('[requirement."\x1b]0;x\x07"]\nlevel = "must"\n', "f.toml", catalogue)
    assert "\x1b" not in str(caught.value) and "\x07" not in str(caught.value)


def test_with_levels_refuses_a_withdrawn_requirement(catalogue: Catalogue) -> None:
    changes = parse_levels(LEVELS, "levels.toml", catalogue)
    bogus = [changes[0].__class__("PTR-01", Level.SHOULD, Level.MUST, "x")]
    with pytest.raises(CatalogueError, match="PTR-01: not a requirement in force"):
        catalogue.with_levels(bogus)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_any_text_is_a_levels_file_or_a_levels_error(text: str) -> None:
    try:
        parse_levels(text, "fuzz.toml", load_catalogue())
    except LevelsError as exc:
        assert str(exc).startswith("fuzz.toml: ")


# --- retired report addresses -----------------------------------------------------------------


def test_the_packaged_list_is_mail_checks_addresses() -> None:
    retired = packaged_retired()
    assert {(a.reports, a.mailbox or a.domain) for a in retired.addresses} == {
        ("dmarc", "dmarc-rua@dmarc.service.gov.uk"),
        ("dmarc", "dmarc-ruf@dmarc.service.gov.uk"),
        ("dmarc", "dmarc-rua.mailcheck.service.ncsc.gov.uk"),
        ("tlsrpt", "tls-rua@mailcheck.service.ncsc.gov.uk"),
    }
    for entry in retired.addresses:
        assert entry.service == "NCSC Mail Check"
        assert entry.retired == datetime.date(2026, 3, 31)
        assert entry.source.startswith("https://")


@pytest.mark.parametrize(
    ("reports", "uri", "retired_by"),
    [
        ("dmarc", "mailto:dmarc-rua@dmarc.service.gov.uk", True),
        ("dmarc", "mailto:dmarc-rua@DMARC.SERVICE.GOV.UK.", True),
        ("dmarc", "mailto:dmarc-rua@dmarc.service.gov.uk!10m", True),
        ("dmarc", "mailto:DMARC-RUA@dmarc.service.gov.uk", False),  # local part exact
        ("dmarc", "mailto:x9f2@dmarc-rua.mailcheck.service.ncsc.gov.uk", True),  # token address
        ("dmarc", "mailto:dmarc@example-dept.gov.uk", False),
        ("dmarc", "mailto:tls-rua@mailcheck.service.ncsc.gov.uk", False),  # a TLS-RPT address
        ("tlsrpt", "mailto:tls-rua@mailcheck.service.ncsc.gov.uk", True),
        ("tlsrpt", "mailto:dmarc-rua@dmarc.service.gov.uk", False),
        ("tlsrpt", "https://mailcheck.service.ncsc.gov.uk/tls", False),
    ],
)
def test_which_uris_are_retired(reports: str, uri: str, retired_by: bool) -> None:
    assert (packaged_retired().find(reports, parse_report_uri(uri)) is not None) is retired_by


MINE = """\
schema = 1

[[address]]
service = "Old vendor"
reports = "tlsrpt"
domain = "Reports.Example."
retired = 2025-06-30
source = "https://old-vendor.example/eos"
"""


def test_a_users_list_extends_the_packaged_one() -> None:
    retired = retired_from_input("mine.toml", MINE)
    assert len(retired.addresses) == len(packaged_retired().addresses) + 1
    assert retired.sources[-1] == "mine.toml"
    entry = retired.addresses[-1]
    assert entry.domain == "reports.example"
    assert retired.find("tlsrpt", parse_report_uri("https://reports.example/tls")) is entry
    assert retired.find("tlsrpt", parse_report_uri("mailto:a@reports.example")) is entry
    assert retired.find("dmarc", parse_report_uri("mailto:a@reports.example")) is None
    assert "Old vendor, retired 2025-06-30" in entry.describe()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(("schema = 1", "schema = 2"), "'schema' must be 1", id="schema"),
        pytest.param(("[[address]]", "[[addresses]]"), "unknown key", id="top-level"),
        pytest.param(('reports = "tlsrpt"', 'reports = "mta-sts"'), "'reports'", id="reports"),
        pytest.param(
            ('domain = "Reports.Example."', 'mailbox = "no-at-sign"'), "not local@domain", id="mbox"
        ),
        pytest.param(
            ('domain = "Reports.Example."', 'mailbox = "a b@x.example"'),
            "not local@domain",
            id="mbox-space",
        ),
        pytest.param(
            ('domain = "Reports.Example."', 'domain = "x..example"'), "not a domain", id="domain"
        ),
        pytest.param(
            ('domain = "Reports.Example."', 'domain = "a.example"\nmailbox = "a@a.example"'),
            "exactly one of 'mailbox' and 'domain'",
            id="both",
        ),
        pytest.param(('domain = "Reports.Example."\n', ""), "exactly one of", id="neither"),
        pytest.param(("retired = 2025-06-30", 'retired = "2025"'), "'retired'", id="date"),
        pytest.param(
            ("retired = 2025-06-30", "retired = 2025-06-30T00:00:00"), "'retired'", id="datetime"
        ),
        pytest.param(
            ('source = "https://old-vendor.example/eos"', 'source = "http://x"'),
            "https://",
            id="source",
        ),
        pytest.param(('service = "Old vendor"', 'service = ""'), "'service'", id="service"),
        pytest.param(
            ('service = "Old vendor"', 'service = "' + "s" * 301 + '"'), "longer", id="long"
        ),
        pytest.param(('service = "Old vendor"', 'note = "x"'), "unknown key", id="field"),
    ],
)
def test_bad_retired_files_name_the_entry(change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in MINE
    with pytest.raises(RetiredError, match=message):
        parse_retired(MINE.replace(old, new), "mine.toml")


def test_a_retired_file_is_bounded_and_inert() -> None:
    many = "schema = 1\n" + (
        '[[address]]\nservice = "s"\nreports = "dmarc"\ndomain = "a.example"\n'
        'retired = 2025-01-01\nsource = "https://a.example"\n'
    ) * (MAX_ENTRIES + 1)
    with pytest.raises(RetiredError, match="more than 1000"):
        parse_retired(many, "many.toml")
    shown = parse_retired(MINE.replace("Old vendor", "Old\\u001b[31m vendor"), "m.toml")
    assert "\x1b" not in shown.addresses[0].service
    with pytest.raises(RetiredError) as caught:
        parse_retired("schema = 1\n\x1b = 1\n", "m\x1b.toml")
    assert "\x1b" not in str(caught.value)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_any_text_is_a_retired_list_or_a_retired_error(text: str) -> None:
    try:
        parse_retired(text, "fuzz.toml")
    except RetiredError as exc:
        assert str(exc).startswith("fuzz.toml: ")
