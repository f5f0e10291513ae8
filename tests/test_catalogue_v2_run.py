"""Catalogue version 2 in a run: the evidence names its catalogue, a replay says which judged it,
the reports list withdrawn requirements, the changelog and each level's citation, and an
organisation's levels file changes levels visibly.

Runs replay the 0.1.0 release's demo evidence (offline), restricted with ``-k`` to a few
departments, so they are quick and need no lab.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_govmail.model import evidence
from pytest_govmail.model.dns import DnsSnapshot
from pytest_govmail.model.target import Target

DATA = Path(__file__).parent / "data"
RELEASE_EVIDENCE = DATA / "release-0.1.0-demo-evidence.json"
BASE = ("-p", "no:cacheprovider", "-p", "no:randomly")

LEVELS = """\
[requirement.DMARC-03]
level = "must"
reason = "Board decision 2026-07: <b>every</b> domain at p=reject"

[requirement.TLS-08]
level = "advisory"
reason = "Gateway vendor ships TLS 1.3 in Q3 (RISK-112)"
"""


# --- the evidence file ------------------------------------------------------------------------


def _evidence(version: str = "") -> evidence.Evidence:
    return evidence.Evidence(
        targets=(Target("example-dept.gov.uk"),), dns=DnsSnapshot(), catalogue_version=version
    )


def test_the_evidence_file_carries_the_catalogue_version(tmp_path: Path) -> None:
    path = tmp_path / "e.json"
    evidence.write(_evidence("2"), path)
    assert json.loads(path.read_text("utf-8"))["catalogue_version"] == "2"
    back = evidence.read(path)
    assert back.catalogue_version == "2" and back.judged_by == "2"


def test_a_file_without_a_catalogue_version_was_judged_by_version_1() -> None:
    old = evidence.read(RELEASE_EVIDENCE)
    assert "catalogue_version" not in json.loads(RELEASE_EVIDENCE.read_text("utf-8"))
    assert old.catalogue_version == "" and old.judged_by == "1"


@pytest.mark.parametrize("value", ["2<script>", 2, "", "9" * 13, "٢", None, ["2"]])
def test_a_catalogue_version_is_a_number_or_the_file_is_refused(value: object) -> None:
    data = evidence.encode(_evidence())
    data["catalogue_version"] = value
    if value == "":
        assert evidence.decode(data).catalogue_version == ""
        return
    with pytest.raises(evidence.EvidenceError, match="catalogue_version"):
        evidence.decode(data, "hostile.json")


def test_shards_judged_by_different_catalogues_are_not_merged() -> None:
    assert evidence.merge([_evidence("2"), _evidence("2")]).catalogue_version == "2"
    assert evidence.merge([_evidence(""), _evidence("1")]).judged_by == "1"
    with pytest.raises(evidence.EvidenceError, match=r"different catalogue versions \(1, 2\)"):
        evidence.merge([_evidence("2"), _evidence("")])


# --- a replay under catalogue version 2, with an organisation's levels -----------------------


def _levels(pytester: pytest.Pytester, text: str = LEVELS) -> Path:
    path = pytester.path / "levels.toml"
    path.write_text(text, "utf-8")
    return path


def _junit_levels(path: Path) -> dict[str, str]:
    found = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        named = {p.get("name"): p.get("value") for p in case.iter("property")}
        found[str(named["govmail.requirement"])] = str(named["govmail.level"])
    return found


def test_a_replay_with_levels_shows_every_catalogue_fact(pytester: pytest.Pytester) -> None:
    levels = _levels(pytester)
    result = pytester.runpytest(
        f"--govmail-replay={RELEASE_EVIDENCE}",
        f"--govmail-levels={levels}",
        "--govmail-evidence-out=out.json",
        "-k",
        "monitoring",
        *BASE,
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "govmail: * domain(s); replaying * saved answers; catalogue v2; the replayed "
            "evidence was judged by catalogue v1 (not recorded in the file*",
            "govmail: level set by *levels.toml: DMARC-03: should -> must (Board decision*",
            "govmail: level set by *levels.toml: TLS-08: should -> advisory (Gateway vendor*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "govmail: 3 requirement(s) withdrawn from catalogue v2, never run: TLSRPT-02 "
            "(2026-03-31, replaced by TLSRPT-03), DMARC-07 (2026-03-31, replaced by DMARC-09), "
            "PTR-01 (2026-12-03, replaced by PTR-02)",
        ]
    )
    # The levels reach the markers and the JUnit properties.
    levels_seen = _junit_levels(pytester.path / "reports" / "junit.xml")
    assert levels_seen["DMARC-03"] == "must" and levels_seen["TLS-08"] == "advisory"
    assert levels_seen["DMARC-04"] == "should"
    assert not {"DMARC-07", "TLSRPT-02", "PTR-01"} & set(levels_seen)
    # The evidence written by the replay names the catalogue that judged it, and keeps the
    # levels file as an input, so a replay of it applies the same levels.
    written = json.loads((pytester.path / "out.json").read_text("utf-8"))
    assert written["catalogue_version"] == "2"
    assert written["inputs"]["levels"]["text"] == LEVELS

    html = (pytester.path / "reports" / "govmail.html").read_text("utf-8")
    assert "Catalogue v2: what changed</summary>" in html
    assert "<strong>v2</strong> (2026-12-03)" in html
    assert "assessed against catalogue v2; the replayed evidence was judged by catalogue v1" in html
    assert "judged now by catalogue v2, not v1; withdrawn since (not run): DMARC-07" in html
    assert "3 requirement(s) withdrawn, never run</summary>" in html
    assert "DMARC-07 (withdrawn 2026-03-31, replaced by DMARC-09): NCSC Mail Check" in html
    assert "Levels set by your organisation (2)</h3>" in html
    assert "&lt;b&gt;every&lt;/b&gt;" in html and "<b>every</b>" not in html
    assert "<th>level set by</th>" in html
    row = re.search(r"<tr><td>DMARC-03</td><td>must</td><td class=.*?</tr>", html)
    assert row is not None
    assert "<strong>must by your organisation</strong>" in row.group(0)
    assert (
        'href="https://www.gov.uk/government/publications/email-security-standards/'
        'domain-based-message-authentication-reporting-and-conformance-dmarc"' in row.group(0)
    )
    assert (
        "<q>any messages that fail DMARC checks should be treated as spam (p=quarantine)</q>"
        in (row.group(0))
    )
    row = re.search(r"<tr><td>DMARC-09</td><td>must</td><td class=.*?</tr>", html)
    assert row is not None and "<q>set up DMARC and TLS reporting (TLS-RPT)" in row.group(0)

    again = pytester.runpytest(
        "--govmail-replay=out.json", "-k", "monitoring and DMARC", "--govmail-no-reports", *BASE
    )
    again.stdout.fnmatch_lines(
        [
            "govmail: catalogue v2; the replayed evidence was judged by the same catalogue",
            "govmail: level set by *levels.toml: DMARC-03: should -> must*",
        ]
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[requirement.DMARC-07]\nlevel = "must"\nreason = "x"\n', "DMARC-07 was withdrawn"),
        ('[requirement.DMARC-03]\nlevel = "must"\n', "'reason' must say why"),
    ],
)
def test_a_bad_levels_file_is_a_usage_error(
    pytester: pytest.Pytester, text: str, message: str
) -> None:
    levels = _levels(pytester, text)
    result = pytester.runpytest(
        f"--govmail-replay={RELEASE_EVIDENCE}", f"--govmail-levels={levels}", *BASE
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--govmail-levels: *levels.toml*{message}*"])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a FIFO")
@pytest.mark.parametrize("option", ["--govmail-levels", "--govmail-retired-addresses"])
def test_a_fifo_or_a_huge_file_is_refused_not_read(pytester: pytest.Pytester, option: str) -> None:
    fifo = pytester.path / "fifo"
    os.mkfifo(fifo)
    result = pytester.runpytest(f"--govmail-replay={RELEASE_EVIDENCE}", f"{option}={fifo}", *BASE)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*is not a regular file*"])
    huge = pytester.path / "huge.toml"
    with huge.open("wb") as out:
        out.truncate(2 * 1024 * 1024)
    result = pytester.runpytest(f"--govmail-replay={RELEASE_EVIDENCE}", f"{option}={huge}", *BASE)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*more than a * file can be*"])


def test_a_users_retired_service_fails_dmarc_09(pytester: pytest.Pytester) -> None:
    """monitoring-dept reports to its own mailbox: live, until the user says it is retired."""
    mine = pytester.path / "retired.toml"
    mine.write_text(
        'schema = 1\n[[address]]\nservice = "Monitoring mailbox"\nreports = "dmarc"\n'
        'mailbox = "dmarc@monitoring-dept.gov.uk"\nretired = 2026-06-01\n'
        'source = "https://example.gov.uk/notice"\n',
        "utf-8",
    )
    args = (f"--govmail-replay={RELEASE_EVIDENCE}", "-k", "monitoring and DMARC-09", *BASE)
    assert pytester.runpytest(*args, "--govmail-no-reports").ret == pytest.ExitCode.OK
    result = pytester.runpytest(*args, f"--govmail-retired-addresses={mine}", "-v")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "DMARC-09 FAIL monitoring-dept.gov.uk: *",
            "  observed: rua sends aggregate reports only to retired services (Monitoring "
            "mailbox)*",
        ]
    )


def test_a_waiver_for_a_withdrawn_requirement_says_it_was_withdrawn(
    pytester: pytest.Pytester,
) -> None:
    waivers = pytester.path / "waivers.toml"
    waivers.write_text(
        '[[waiver]]\nrequirement = "DMARC-07"\ndomain = "x.gov.uk"\nreason = "old"\n'
        "expires = 2027-01-01\n",
        "utf-8",
    )
    result = pytester.runpytest(
        f"--govmail-replay={RELEASE_EVIDENCE}", f"--govmail-waivers={waivers}", *BASE
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*'DMARC-07' is not a requirement ID*(DMARC-07 was withdrawn from catalogue v2 on "
            "2026-03-31: remove its waiver)*"
        ]
    )


def test_a_merged_report_shows_the_levels_its_evidence_carries() -> None:
    """govmail-sweep renders its page under the packaged catalogue; the levels file its
    collecting step stored in the evidence is applied there."""
    from pytest_govmail.engine.run import GovmailRun
    from pytest_govmail.engine.settings import Settings
    from pytest_govmail.inputs.catalogue import load_catalogue
    from pytest_govmail.reports.page import render_page
    from pytest_govmail.reports.table import ReportTable

    run = GovmailRun(
        (Target("example-dept.gov.uk"),), Settings(), inputs={"levels": ("lv.toml", LEVELS)}
    )
    html = "".join(render_page(ReportTable(), run, load_catalogue(), (), []))
    assert "Levels set by your organisation (2)</h3>" in html
    assert "Catalogue v2: what changed</summary>" in html


#: Raw control and bidi characters (C0 but tab and line ends, DEL, C1, bidi marks, overrides and
#: isolates): none may reach an output as itself (tests/test_hostile_payloads.py holds the same).
RAW_CONTROLS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
#: ESC with an OSC title, the 8-bit CSI, a bidi override and markup, as TOML escapes.
HOSTILE_TOML = r"x\u001b]0;owned\u0007 csi\u009b31m \u202eexe.txt <script>alert(9)</script>"


def test_levels_and_retired_texts_reach_every_output_inert(pytester: pytest.Pytester) -> None:
    """A levels file's reason and a retired-address file's service are the user's text, shown in
    the terminal, our HTML report, JUnit and pytest-html: inert and escaped in each, and shown."""
    levels = _levels(
        pytester,
        f'[requirement.DMARC-03]\nlevel = "must"\nreason = "{HOSTILE_TOML}"\n',
    )
    retired = pytester.path / "retired.toml"
    retired.write_text(
        f'schema = 1\n[[address]]\nservice = "{HOSTILE_TOML}"\nreports = "dmarc"\n'
        'mailbox = "dmarc@monitoring-dept.gov.uk"\nretired = 2026-06-01\n'
        'source = "https://example.gov.uk/notice"\n',
        "utf-8",
    )
    result = pytester.runpytest(
        f"--govmail-replay={RELEASE_EVIDENCE}",
        f"--govmail-levels={levels}",
        f"--govmail-retired-addresses={retired}",
        "--html=pytest-html.html",
        "-k",
        "monitoring and (DMARC-09 or DMARC-03)",
        "-v",
        "-rA",
        *BASE,
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    terminal = result.stdout.str() + result.stderr.str()
    outputs = {
        "terminal": terminal,
        "junit": (pytester.path / "reports" / "junit.xml").read_text("utf-8"),
        "govmail.html": (pytester.path / "reports" / "govmail.html").read_text("utf-8"),
        "pytest-html": (pytester.path / "pytest-html.html").read_text("utf-8"),
    }
    for where, text in outputs.items():
        assert RAW_CONTROLS.findall(text) == [], where
        if where != "terminal":
            assert "<script>alert(9)" not in text, where
    shown = r"x\x1b]0;owned\x07 csi\x9b31m \u202eexe.txt"
    assert f"DMARC-03: should -> must ({shown}" in terminal  # the level's reason
    assert f"retired services ({shown}" in terminal  # the retired service, in DMARC-09
    assert "&lt;script&gt;alert(9)" in outputs["govmail.html"]
    assert shown in outputs["junit"] and shown in outputs["pytest-html"]
