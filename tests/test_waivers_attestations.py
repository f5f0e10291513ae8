"""Waivers and attestations: the loaders, ATTEST-01's judge, and their effect on a real run."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from factories import subject
from hypothesis import given, settings
from hypothesis import strategies as st
from report_reader import report_tests

from pytest_govmail.inputs.attestations import CONTROLS, AttestationError, parse_attestations
from pytest_govmail.inputs.waivers import (
    Horizon,
    WaiverError,
    find_waiver,
    inert,
    parse_waivers,
)
from pytest_govmail.judge.attest import controls_attested
from pytest_govmail.lab.demo import DemoLab, start_demo_lab
from pytest_govmail.model.verdict import Status

IDS = ["SPF-06", "DMARC-03", "MX-03"]
D = "example-dept.gov.uk"
#: An expiry inside the default horizon of 365 days, whenever the tests run.
SOON = (datetime.now(UTC).date() + timedelta(days=200)).isoformat()


def waiver_text(**fields: str) -> str:
    base = {
        "requirement": '"SPF-06"',
        "domain": '"example-*.gov.uk"',
        "reason": '"legacy relay"',
        "expires": SOON,
    }
    base.update(fields)
    return "[[waiver]]\n" + "\n".join(f"{k} = {v}" for k, v in base.items() if v) + "\n"


def test_waiver_matching_globs_and_expiry() -> None:
    (waiver,) = parse_waivers(
        waiver_text(host='"mx*.example"', expires="2030-01-31"), "w.toml", IDS
    )
    today = date(2026, 11, 29)
    assert find_waiver([waiver], "SPF-06", D, "mx1.example", today).applied == waiver
    assert find_waiver([waiver], "SPF-06", D, None, today).applied is None
    assert find_waiver([waiver], "SPF-05", D, "mx1.example", today).applied is None
    assert find_waiver([waiver], "SPF-06", "other.gov.uk", "mx1.example", today).applied is None
    later = find_waiver([waiver], "SPF-06", D, "mx1.example", date(2030, 2, 1))
    assert later.applied is None and later.expired == waiver
    assert find_waiver([waiver], "SPF-06", D, "mx1.example", date(2030, 1, 31)).applied == waiver


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("[[waiver]\n", "not valid TOML", id="toml"),
        pytest.param(waiver_text(requirement='"NOPE-01"'), "not a requirement ID", id="id"),
        pytest.param(waiver_text(expires='"soon"'), "'expires' must be a date", id="date"),
        pytest.param(waiver_text(reason='""'), "'reason' must be a non-empty", id="reason"),
        pytest.param(
            waiver_text(reason=f'"{"x" * 1001}"'),
            "'reason' is 1001 characters long; at most 1000",
            id="reason-too-long",
        ),
        pytest.param(waiver_text(owner='"me"'), "unknown field", id="extra"),
        pytest.param("[waivers]\n", "unknown table", id="table"),
    ],
)
def test_bad_waiver_files_name_the_entry(text: str, message: str) -> None:
    with pytest.raises(WaiverError, match=message):
        parse_waivers(text, "w.toml", IDS)


def attestation_text(domain: str, controls: list[str], expires: str = "") -> str:
    out = []
    for control in controls:
        out.append(
            "[[attestation]]\n"
            f'domain = "{domain}"\ncontrol = "{control}"\nattested_by = "A. Person"\n'
            'date = 2026-10-01\nevidence = "https://evidence.example/1"\n'
            + (f"expires = {expires}\n" if expires else "")
        )
    return "\n".join(out)


NOW = datetime(2026, 11, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(attestation_text(D, list(CONTROLS)), Status.PASS, id="all-attested"),
        pytest.param(attestation_text("*.gov.uk", list(CONTROLS)), Status.PASS, id="glob"),
        pytest.param(attestation_text(D, list(CONTROLS)[:2]), Status.FAIL, id="two-of-four"),
        pytest.param(
            attestation_text(D, list(CONTROLS), expires="2026-06-01"), Status.FAIL, id="expired"
        ),
        pytest.param(
            attestation_text("other.gov.uk", list(CONTROLS)),
            Status.NOT_APPLICABLE,
            id="none-for-this-domain",
        ),
        pytest.param("", Status.NOT_APPLICABLE, id="no-file"),
    ],
)
def test_attest_01(text: str, expected: Status) -> None:
    attestations = parse_attestations(text, "a.toml")
    verdict = controls_attested(replace(subject(D), attestations=attestations, now=NOW))
    assert verdict.status is expected
    if expected is Status.NOT_APPLICABLE:
        assert "manual evidence required" in verdict.summary
    if expected is Status.PASS:
        assert {k for k, _ in verdict.details} == set(CONTROLS)


def test_bad_attestation_control() -> None:
    with pytest.raises(AttestationError, match="unknown control 'firewall'"):
        parse_attestations(attestation_text(D, ["firewall"]), "a.toml")


@pytest.fixture(scope="module")
def lab() -> Iterator[DemoLab]:
    running = start_demo_lab()
    yield running
    running.stop()


def run(pytester: pytest.Pytester, lab: DemoLab, *args: str) -> pytest.RunResult:
    return pytester.runpytest(
        *lab.cli_args(),
        "-p",
        "no:cacheprovider",
        "-rxX",
        *args,
    )


def test_waivers_in_a_run(pytester: pytest.Pytester, lab: DemoLab) -> None:
    waivers = pytester.path / "w.toml"
    waivers.write_text(
        # fails -> xfail; passes -> XPASS(strict) failure; expired; matches nothing.
        waiver_text(requirement='"DMARC-03"', domain='"monitoring-dept.gov.uk"')
        + waiver_text(requirement='"DMARC-03"', domain='"exemplary-dept.gov.uk"')
        + waiver_text(
            requirement='"DMARC-04"', domain='"monitoring-dept.gov.uk"', expires="2020-01-01"
        )
        + waiver_text(requirement='"MX-03"', domain='"nowhere.gov.uk"')
        # a waiver never hides an inconclusive test
        + waiver_text(requirement='"DMARC-03"', domain='"broken-dns-dept.gov.uk"')
    )
    result = run(
        pytester,
        lab,
        "--govmail-domain=monitoring-dept.gov.uk,exemplary-dept.gov.uk,broken-dns-dept.gov.uk",
        f"--govmail-waivers={waivers}",
        "-k",
        "dmarc_policy_enforced or dmarc_pct_full",
    )
    outcome = result.parseoutcomes()
    assert outcome["xfailed"] == 1 and outcome["errors"] == 2
    result.stdout.fnmatch_lines(
        [
            "*XPASS(strict)*DMARC-03 now passes for exemplary-dept.gov.uk: remove the waiver*",
            "*waiver EXPIRED, no longer applied: DMARC-04 for monitoring-dept.gov.uk*",
            "*waiver matches no test in this run: MX-03 for nowhere.gov.uk*",
            "XFAIL*test_dmarc[[]DMARC-03/monitoring-dept.gov.uk[]]*waived*",
        ]
    )
    assert "DMARC-04 FAIL monitoring-dept.gov.uk" in result.stdout.str()  # expired: not applied
    report = report_tests(pytester.path / "reports" / "govmail.html")
    tests = {(t["requirement"], t["domain"]): t for t in report}
    waived = tests[("DMARC-03", "monitoring-dept.gov.uk")]
    assert (waived["status"], waived["outcome"]) == ("fail", "xfailed")
    assert waived["waiver"].startswith("DMARC-03 for monitoring-dept.gov.uk until")
    fixed = tests[("DMARC-03", "exemplary-dept.gov.uk")]
    assert (fixed["status"], fixed["outcome"]) == ("pass", "failed") and fixed["waiver"]
    assert tests[("DMARC-03", "broken-dns-dept.gov.uk")]["waiver"] == ""
    assert tests[("DMARC-04", "monitoring-dept.gov.uk")]["waiver"] == ""


def test_bad_waiver_file_is_a_usage_error(pytester: pytest.Pytester, lab: DemoLab) -> None:
    (pytester.path / "w.toml").write_text(waiver_text(requirement='"NOPE-01"'))
    result = run(
        pytester, lab, "--govmail-domain=exemplary-dept.gov.uk", "--govmail-waivers=w.toml"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: w.toml, waiver #1: 'NOPE-01' is not a requirement ID*"])


@pytest.mark.parametrize(
    ("option", "make", "message"),
    [
        pytest.param(
            "--govmail-waivers",
            lambda path: os.mkfifo(path),
            "*is not a regular file, not a waivers file*",
            id="waivers-fifo",
        ),
        pytest.param(
            "--govmail-attestations",
            lambda path: path.write_bytes(b"#" * (1024 * 1024 + 1)),
            "*more than a attestations file can be*",
            id="attestations-huge",
        ),
        pytest.param(
            "--govmail-waivers",
            lambda path: path.write_bytes(b'[[waiver]]\nreason = "\xff"\n'),
            "*waivers file*is not UTF-8 text*",
            id="waivers-latin1",
        ),
    ],
)
def test_waiver_and_attestation_files_are_read_bounded(
    pytester: pytest.Pytester,
    lab: DemoLab,
    option: str,
    make: Callable[[Path], object],
    message: str,
) -> None:
    """Read as the levels and retired-address files are: a FIFO would wait for a writer for
    ever, a huge file would be read whole; both are usage errors, as is text not UTF-8."""
    path = pytester.path / "given.toml"
    make(path)
    result = run(pytester, lab, "--govmail-domain=exemplary-dept.gov.uk", f"{option}={path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_attestations_in_a_run_and_the_report(pytester: pytest.Pytester, lab: DemoLab) -> None:
    path: Path = pytester.path / "a.toml"
    path.write_text(attestation_text("exemplary-dept.gov.uk", list(CONTROLS)))
    result = run(
        pytester,
        lab,
        "--govmail-domain=exemplary-dept.gov.uk,monitoring-dept.gov.uk",
        f"--govmail-attestations={path}",
        "-m",
        "attest",
        "-rs",
    )
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*ATTEST-01 not applicable: manual evidence required*"])
    html = (pytester.path / "reports" / "govmail.html").read_text()
    assert "attested control(s)</summary>" in html and "https://evidence.example/1" in html


# Dates: a TOML date-time or time of day is refused by name, for waivers and attestations alike.

NOT_DATES = [
    pytest.param("2099-01-01T00:00:00Z", "not a date and time", id="offset-datetime"),
    pytest.param("2099-01-01 00:00:00+01:00", "not a date and time", id="offset-space"),
    pytest.param("2099-01-01T00:00:00", "not a date and time", id="local-datetime"),
    pytest.param("07:32:00", "not a time of day", id="local-time"),
    pytest.param('"2099-01-01"', "must be a date such as 2027-03-31", id="string"),
    pytest.param("20990101", "must be a date such as 2027-03-31", id="integer"),
]


@pytest.mark.parametrize(("value", "message"), NOT_DATES)
def test_waiver_expiry_must_be_a_date(value: str, message: str) -> None:
    with pytest.raises(WaiverError) as raised:
        parse_waivers(waiver_text(expires=value), "w.toml", IDS)
    assert str(raised.value).startswith("w.toml, waiver #1 (SPF-06): ")
    assert message in str(raised.value)


@pytest.mark.parametrize(("value", "message"), NOT_DATES)
@pytest.mark.parametrize("field", ["date", "expires"])
def test_attestation_dates_must_be_dates(field: str, value: str, message: str) -> None:
    text = attestation_text(D, ["tls-to-gov-uk"], expires="2027-10-01")
    text = text.replace(
        "date = 2026-10-01" if field == "date" else "expires = 2027-10-01", f"{field} = {value}"
    )
    with pytest.raises(AttestationError) as raised:
        parse_attestations(text, "a.toml")
    assert str(raised.value).startswith(f"a.toml, attestation #1: {field} ") or (
        f"'{field}' must be a date" in str(raised.value)
    )
    assert message in str(raised.value)


# The horizon: no waiver runs further than today + DAYS.

TODAY = date(2026, 12, 3)


@pytest.mark.parametrize(
    ("days", "expires", "allowed"),
    [
        pytest.param(365, "2027-12-03", True, id="on-the-horizon"),
        pytest.param(365, "2027-12-04", False, id="a-day-beyond"),
        pytest.param(365, "2099-01-01", False, id="far"),
        pytest.param(0, "2026-12-03", True, id="zero-today"),
        pytest.param(0, "2026-12-04", False, id="zero-tomorrow"),
        pytest.param(365, "2020-01-01", True, id="expired-is-not-beyond"),
    ],
)
def test_waiver_horizon(days: int, expires: str, allowed: bool) -> None:
    text = waiver_text(expires=expires)
    if allowed:
        (waiver,) = parse_waivers(text, "w.toml", IDS, Horizon(days, TODAY))
        assert waiver.expires.isoformat() == expires
        return
    with pytest.raises(WaiverError) as raised:
        parse_waivers(text, "w.toml", IDS, Horizon(days, TODAY))
    latest = (TODAY + timedelta(days=days)).isoformat()
    assert str(raised.value) == (
        f"w.toml, waiver #1 (SPF-06): expires {expires}, beyond the waiver horizon of {days} "
        f"day(s) (latest {latest}); review the exception and give a nearer date, or raise "
        "--govmail-waiver-horizon"
    )
    # Without a horizon (a replayed run's stored waivers, the demo's) the same file parses.
    assert parse_waivers(text, "w.toml", IDS)


# Inert values: what the file says reaches the terminal with its control characters escaped.

HOSTILE = "ok\x1b[2J\x1b]0;pwned\x07\x9b31m\u202eevil\u2066x\u2069\x00"
SHOWN = "ok\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u202eevil\\u2066x\\u2069\\x00"


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string: quote, backslash and the control characters TOML v1.0.0
    forbids raw (U+0000-U+001F but tab, and U+007F) escaped, every other character as it is."""

    def one(ch: str) -> str:
        if ch in '"\\':
            return "\\" + ch
        return f"\\u{ord(ch):04x}" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch

    return '"' + "".join(map(one, text)) + '"'


def test_waiver_values_are_inert() -> None:
    (waiver,) = parse_waivers(waiver_text(reason=toml_string(HOSTILE)), "w.toml", IDS)
    assert waiver.reason == SHOWN == inert(HOSTILE)
    for shown in (waiver.describe(), waiver.listing()):
        assert SHOWN in shown and shown.isprintable()


@pytest.mark.parametrize("field", ["domain", "host"])
def test_waiver_patterns_with_control_characters_are_refused(field: str) -> None:
    text = waiver_text(**{field: toml_string("example-dept.gov.uk\u202e")})
    with pytest.raises(WaiverError, match=rf"'{field}' 'example-dept.gov.uk\\u202e' holds"):
        parse_waivers(text, "w.toml", IDS)


@pytest.mark.parametrize(
    ("field", "old"), [("attested_by", '"A. Person"'), ("evidence", '"https://evidence.example/1"')]
)
def test_attestation_texts_are_bounded(field: str, old: str) -> None:
    """A text repeated on every test it touches, in every output, is bounded where it is read."""
    base = attestation_text(D, [next(iter(CONTROLS))])
    at_limit = base.replace(f"{field} = {old}", f'{field} = "{"x" * 1000}"')
    assert getattr(parse_attestations(at_limit, "a.toml")[0], field) == "x" * 1000
    over = base.replace(f"{field} = {old}", f'{field} = "{"x" * 5000}"')
    with pytest.raises(AttestationError, match=f"'{field}' is 5000 characters long; at most"):
        parse_attestations(over, "a.toml")


@pytest.mark.parametrize(
    ("field", "message"),
    [("attested_by", None), ("evidence", None), ("domain", "'domain' '.*' holds control")],
)
def test_attestation_values_are_inert(field: str, message: str | None) -> None:
    base = attestation_text(D, list(CONTROLS))
    old = {"attested_by": '"A. Person"', "evidence": '"https://evidence.example/1"'}.get(
        field, f'"{D}"'
    )
    text = base.replace(f"{field} = {old}", f"{field} = {toml_string(HOSTILE)}")
    if message is not None:
        with pytest.raises(AttestationError, match=message):
            parse_attestations(text, "a.toml")
        return
    attestations = parse_attestations(text, "a.toml")
    assert all(getattr(a, field) == SHOWN for a in attestations)
    verdict = controls_attested(replace(subject(D), attestations=attestations, now=NOW))
    assert verdict.status is Status.PASS
    assert all(value.isprintable() and SHOWN in value for _, value in verdict.details)


def test_waiver_listing_flags_a_glob() -> None:
    exact, broad, host_only = parse_waivers(
        waiver_text(domain=f'"{D}"')
        + waiver_text(domain='"*"')
        + waiver_text(domain=f'"{D}"', host='"mx*.example"'),
        "w.toml",
        IDS,
    )
    assert "GLOB" not in exact.listing() and "GLOB" not in host_only.listing()
    assert broad.broad and not exact.broad
    assert broad.listing() == (
        f"SPF-06, domain * [GLOB: covers more than one domain], expires {SOON}: legacy relay "
        "(w.toml, waiver #2)"
    )
    assert host_only.listing().startswith(f"SPF-06, domain {D}, MX mx*.example, expires")


# Fuzzing: whatever the text, the loaders give entries or their own error, nothing else.

_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
_SCALARS = st.one_of(
    _TEXT,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5, minutes=-30))])),
    st.times(),
    st.sampled_from(["SPF-06", "DMARC-03", "*", "example-*.gov.uk", *CONTROLS]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)
_WAIVER_KEYS = st.sampled_from(["requirement", "domain", "host", "reason", "expires"]) | _TEXT
_ATTEST_KEYS = (
    st.sampled_from(["domain", "control", "attested_by", "date", "evidence", "expires"]) | _TEXT
)


def toml_value(value: object) -> str:
    """A Python value as TOML (inline tables and arrays): enough to write any strategy's draw."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # nan, inf and -inf are TOML floats too
    if isinstance(value, date | time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(table: str, entries: list[dict[str, object]], top: dict[str, object]) -> str:
    lines = [f"{toml_string(k)} = {toml_value(v)}" for k, v in top.items()]
    for entry in entries:
        lines.append(f"[[{table}]]")
        lines.extend(f"{toml_string(k)} = {toml_value(v)}" for k, v in entry.items())
    return "\n".join(lines) + "\n"


#: A valid entry of each kind, which the fuzzing varies one field at a time.
GOOD = {
    "waiver": {"requirement": "SPF-06", "domain": "*", "reason": "r", "expires": date(2027, 1, 1)},
    "attestation": {
        "domain": D,
        "control": "tls-to-gov-uk",
        "attested_by": "A. Person",
        "date": date(2026, 10, 1),
        "evidence": "e",
    },
}


def documents(table: str, keys: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Any text; TOML documents of arbitrary entries; and valid entries with one field (or an
    unknown one) set to any TOML value, or one field left out."""
    good = GOOD[table]
    varied = st.builds(
        lambda key, value, drop: {
            **{k: v for k, v in good.items() if k != drop},
            **({} if key is None else {key: value}),
        },
        st.none() | keys,
        _VALUES,
        st.none() | st.sampled_from(sorted(good)),
    )
    entries = st.lists(varied | st.dictionaries(keys, _VALUES, max_size=7), max_size=3)
    top = st.dictionaries(st.sampled_from([table, "other"]) | _TEXT, _VALUES, max_size=2)
    shaped = st.builds(lambda e, t: toml_document(table, e, t), entries, top | st.just({}))
    return st.one_of(st.text(), shaped)


@settings(max_examples=400, deadline=None)
@given(text=documents("waiver", _WAIVER_KEYS), days=st.none() | st.integers(0, 36500))
def test_parse_waivers_raises_only_waiver_error(text: str, days: int | None) -> None:
    horizon = None if days is None else Horizon(days, TODAY)
    try:
        waivers = parse_waivers(text, "w.toml", IDS, horizon)
    except WaiverError as exc:
        assert str(exc).startswith("w.toml")
        return
    for waiver in waivers:
        assert type(waiver.expires) is date
        assert waiver.listing().isprintable() and waiver.describe().isprintable()
        waiver.matches("SPF-06", D, None)
        waiver.active(TODAY)


@settings(max_examples=400, deadline=None)
@given(text=documents("attestation", _ATTEST_KEYS))
def test_parse_attestations_raises_only_attestation_error(text: str) -> None:
    try:
        attestations = parse_attestations(text, "a.toml")
    except AttestationError as exc:
        assert str(exc).startswith("a.toml")
        return
    for attestation in attestations:
        assert type(attestation.attested_on) is date
        assert attestation.expires is None or type(attestation.expires) is date
        assert attestation.attested_by.isprintable() and attestation.evidence.isprintable()
        attestation.current(TODAY)
        attestation.covers(D)


# In a run: a broad waiver is listed with its reach, the horizon and the date rule stop the run.


def test_a_broad_waiver_is_listed_with_its_reach(pytester: pytest.Pytester, lab: DemoLab) -> None:
    """``domain = "*"`` on DMARC-03 waives the failures of three domains: the summary and the
    page list it with its pattern flagged as a glob, the three tests it matched and its expiry,
    and its hostile reason reaches neither the terminal nor the page as control characters."""
    (pytester.path / "w.toml").write_text(
        waiver_text(requirement='"DMARC-03"', domain='"*"', reason=toml_string(HOSTILE))
    )
    result = run(
        pytester,
        lab,
        "--govmail-domain=bare-dept.gov.uk,hostile-dept.gov.uk,monitoring-dept.gov.uk",
        "--govmail-waivers=w.toml",
        "-k",
        "dmarc_policy_enforced",
    )
    result.assert_outcomes(xfailed=3)
    lines = result.stdout.lines
    start = lines.index("govmail: 1 waiver(s) applied")
    assert lines[start + 1] == (
        "govmail: waiver applied to 3 test(s): DMARC-03, domain * [GLOB: covers more than one "
        f"domain], expires {SOON}: {SHOWN} (w.toml, waiver #1)"
    )
    out = result.stdout.str()
    assert all(ch not in out for ch in "\x1b\x07\x9b\u202e\u2066\u2069\x00")
    html = (pytester.path / "reports" / "govmail.html").read_text("utf-8")
    row = (
        "<tr><td>DMARC-03</td><td>* <strong>(glob: covers more than one domain)</strong></td>"
        f"<td></td><td>3</td><td>{SOON}</td><td>{SHOWN}</td><td>w.toml, waiver #1</td></tr>"
    )
    assert row in html


@pytest.mark.parametrize(
    ("expires", "args", "message"),
    [
        pytest.param(
            (datetime.now(UTC).date() + timedelta(days=31)).isoformat(),
            ["--govmail-waiver-horizon=30"],
            "ERROR: w.toml, waiver #1 (DMARC-03): expires *, beyond the waiver horizon of 30 "
            "day(s) (latest *)*",
            id="beyond-option",
        ),
        pytest.param(
            "2099-01-01",
            [],
            "ERROR: w.toml, waiver #1 (DMARC-03): expires 2099-01-01, beyond the waiver horizon "
            "of 365 day(s)*",
            id="beyond-default",
        ),
        pytest.param(
            "2099-01-01T00:00:00Z",
            [],
            "ERROR: w.toml, waiver #1 (DMARC-03): expires must be a date such as 2027-03-31, "
            "not a date and time",
            id="datetime",
        ),
        pytest.param(
            SOON,
            ["--govmail-waiver-horizon=soon"],
            "ERROR: --govmail-waiver-horizon: 'soon' is not 0 to 36500 days",
            id="bad-days",
        ),
    ],
)
def test_waivers_a_run_refuses(
    pytester: pytest.Pytester, lab: DemoLab, expires: str, args: list[str], message: str
) -> None:
    (pytester.path / "w.toml").write_text(
        waiver_text(requirement='"DMARC-03"', domain='"monitoring-dept.gov.uk"', expires=expires)
    )
    result = run(
        pytester,
        lab,
        "--govmail-domain=monitoring-dept.gov.uk",
        "--govmail-waivers=w.toml",
        *args,
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_the_horizon_comes_from_the_ini_too(pytester: pytest.Pytester, lab: DemoLab) -> None:
    """``govmail_waiver_horizon`` in the ini file widens the horizon like the option does."""
    (pytester.path / "w.toml").write_text(
        waiver_text(
            requirement='"DMARC-03"', domain='"monitoring-dept.gov.uk"', expires="2099-01-01"
        )
    )
    pytester.makeini("[pytest]\ngovmail_waiver_horizon = 36500\n")
    result = run(
        pytester,
        lab,
        "--govmail-domain=monitoring-dept.gov.uk",
        "--govmail-waivers=w.toml",
        "-k",
        "dmarc_policy_enforced",
    )
    result.assert_outcomes(xfailed=1)
