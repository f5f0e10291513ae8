"""The packaged requirement catalogue and its loader."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from pytest_govmail.inputs.catalogue import (
    AREA_TITLES,
    Catalogue,
    CatalogueError,
    Level,
    Requirement,
    Scope,
    Source,
    Withdrawal,
    load_catalogue,
)
from pytest_govmail.inputs.catalogue_markdown import main, markdown_table

# Every ID of catalogue version 1, by area, in the catalogue's order. Written out by hand: an ID
# is public interface and never changes meaning, so none of these may be dropped or renamed (a
# requirement that no longer applies stays in the catalogue, withdrawn). New IDs may follow.
EXPECTED_IDS: dict[str, list[str]] = {
    "mx": [f"MX-0{n}" for n in range(1, 5)],
    "tls": [f"TLS-{n:02d}" for n in range(1, 11)],
    "cert": [f"CERT-0{n}" for n in range(1, 8)],
    "mtasts": [f"MTASTS-0{n}" for n in range(1, 8)],
    "tlsrpt": ["TLSRPT-01", "TLSRPT-02"],
    "spf": [f"SPF-0{n}" for n in range(1, 8)],
    "dmarc": [f"DMARC-0{n}" for n in range(1, 9)],
    "dkim": [f"DKIM-0{n}" for n in range(1, 8)],
    "park": [f"PARK-0{n}" for n in range(1, 5)],
    "ptr": ["PTR-01"],
    "dnssec": ["DNSSEC-01"],
    "dane": ["DANE-01"],
    "attest": ["ATTEST-01"],
}
EXPECTED_COUNTS = {
    "mx": 4,
    "tls": 10,
    "cert": 7,
    "mtasts": 7,
    "tlsrpt": 2,
    "spf": 7,
    "dmarc": 8,
    "dkim": 7,
    "park": 4,
    "ptr": 1,
    "dnssec": 1,
    "dane": 1,
    "attest": 1,
}
ALL_IDS = [i for ids in EXPECTED_IDS.values() for i in ids]

R, S, P, ALL = {"receiving"}, {"sending"}, {"parked"}, {"all"}
D, H = Scope.DOMAIN, Scope.HOST

#: Withdrawn in catalogue version 2, with what replaced them: never run, never reused.
WITHDRAWN_V2 = {"DMARC-07": ("DMARC-09",), "TLSRPT-02": ("TLSRPT-03",), "PTR-01": ("PTR-02",)}

# (id, level, applies_to, scope) of catalogue version 2, written out by hand.
SAMPLE = [
    ("MX-01", Level.MUST, R, D),
    ("MX-02", Level.SHOULD, R, H),
    ("MX-03", Level.MUST, ALL, D),
    ("MX-04", Level.MUST, R, H),
    ("TLS-05", Level.SHOULD, R, H),
    ("TLS-04", Level.SHOULD, R, H),
    ("TLS-08", Level.SHOULD, R, H),
    ("TLS-10", Level.ADVISORY, R, H),
    ("CERT-04", Level.SHOULD, R, H),
    ("MTASTS-04", Level.SHOULD, R, D),
    ("MTASTS-07", Level.MUST, R, D),
    ("TLSRPT-03", Level.MUST, R, D),
    ("SPF-07", Level.ADVISORY, ALL, D),
    ("DMARC-03", Level.SHOULD, ALL, D),
    ("DMARC-06", Level.MUST, ALL, D),
    ("DMARC-09", Level.MUST, ALL, D),
    ("DMARC-08", Level.SHOULD, ALL, D),
    ("DKIM-04", Level.SHOULD, S, D),
    ("DKIM-06", Level.ADVISORY, S, D),
    ("PARK-01", Level.MUST, P, D),
    ("PARK-03", Level.MUST, P, D),
    ("PARK-04", Level.MUST, P, D),
    ("DNSSEC-01", Level.ADVISORY, ALL, D),
    ("DANE-01", Level.ADVISORY, R, H),
    ("ATTEST-01", Level.MUST, ALL, D),
]

EXPECTED_SOURCE_KEYS = {
    "G1",
    "G2",
    "G3",
    "G5",
    "GS1",
    "GS2",
    "N1",
    "N2",
    "MCEND",
    "MC",
    "SEED",
    "RFC5321",
    "RFC7505",
    "RFC7208",
    "RFC7489",
    "RFC9989",
    "RFC6376",
    "RFC8301",
    "RFC8463",
    "RFC8461",
    "RFC8460",
    "RFC7672",
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


# --- the packaged catalogue -----------------------------------------------------------------


def test_packaged_catalogue_loads_and_is_cached(catalogue: Catalogue) -> None:
    assert catalogue.version == "2"
    assert [e.version for e in catalogue.changelog] == ["1", "2"]
    assert load_catalogue() is catalogue


def test_expected_id_table_is_self_consistent() -> None:
    assert {area: len(ids) for area, ids in EXPECTED_IDS.items()} == EXPECTED_COUNTS
    assert len(ALL_IDS) == len(set(ALL_IDS)) == 60


def test_keeps_every_version_1_id_in_order(catalogue: Catalogue) -> None:
    ids = [r.id for r in catalogue.records]
    assert [i for i in ids if i in ALL_IDS] == ALL_IDS
    assert len(ids) == len(set(ids))


def test_withdrawn_requirements_stay_withdrawn(catalogue: Catalogue) -> None:
    """An ID withdrawn is kept, withdrawn, for ever: never run, never given another meaning."""
    withdrawn = {r.id: r for r in catalogue.withdrawn}
    assert set(WITHDRAWN_V2) <= set(withdrawn)
    for ident, replaced_by in WITHDRAWN_V2.items():
        record = withdrawn[ident]
        assert isinstance(record.withdrawn, Withdrawal)
        assert record.withdrawn.replaced_by == replaced_by
        assert record.withdrawn.reason
        assert not record.implemented and record.judge is None
        assert ident not in catalogue and ident not in catalogue.ids()
        assert catalogue.record(ident) is record
        for other in replaced_by:
            assert catalogue[other].implemented
    withdrawn_in_log = [i for entry in catalogue.changelog for i in entry.withdrawn]
    assert sorted(withdrawn_in_log) == sorted(withdrawn)
    with pytest.raises(KeyError, match="withdrawn on 2026-03-31"):
        catalogue["DMARC-07"]


def test_no_fix_text_recommends_a_retired_service(catalogue: Catalogue) -> None:
    from pytest_govmail.inputs.retired_reporting import packaged_retired

    retired = packaged_retired().addresses
    needles = [a.mailbox or a.domain for a in retired] + ["Mail Check receives"]
    for record in catalogue.records:
        for needle in needles:
            assert needle not in record.remediation, (record.id, needle)
    readme = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
    for needle in needles[:-1]:
        assert f"rua=mailto:{needle}" not in readme


def test_every_level_cites_the_sentence_that_sets_it(catalogue: Catalogue) -> None:
    for record in catalogue.records:
        assert record.level_source.split()[0] in catalogue.sources, record.id
        assert 10 <= len(record.level_quote) <= 400, record.id
    changed = {i for entry in catalogue.changelog for i in entry.levels}
    assert {"DMARC-03", "TLS-04", "TLS-08", "PARK-03", "PARK-04"} <= changed


def test_areas_in_first_appearance_order(catalogue: Catalogue) -> None:
    assert list(catalogue.areas())[: len(EXPECTED_IDS)] == list(EXPECTED_IDS)
    for area, ids in EXPECTED_IDS.items():
        in_area = [r.id for r in catalogue.records if r.area == area]
        assert [i for i in in_area if i in ALL_IDS] == ids
        assert [r.id for r in catalogue.in_area(area)] == [
            i for i in in_area if i not in WITHDRAWN_V2
        ]
    for area in catalogue.areas():
        assert area in AREA_TITLES


@pytest.mark.parametrize(("rid", "level", "applies_to", "scope"), SAMPLE)
def test_levels_scope_and_applicability_match_requirements(
    catalogue: Catalogue, rid: str, level: Level, applies_to: set[str], scope: Scope
) -> None:
    requirement = catalogue[rid]
    assert requirement.level is level
    assert requirement.applies_to == frozenset(applies_to)
    assert requirement.scope is scope


def test_every_tls_and_cert_requirement_is_per_host(catalogue: Catalogue) -> None:
    host_ids = {r.id for r in catalogue if r.scope is Scope.HOST}
    assert {"MX-02", "MX-04", "DANE-01"} <= host_ids
    assert {r.id for r in catalogue if r.area in ("tls", "cert")} <= host_ids


def test_every_record_names_what_exists(catalogue: Catalogue) -> None:
    """Each record's needs name real planner groups, and its judge a real function."""
    from pytest_govmail.engine.needs import check_catalogue, judge_of

    check_catalogue(catalogue)
    implemented = [r for r in catalogue if r.implemented]
    assert [r.id for r in catalogue if not r.implemented] == []
    assert all(callable(judge_of(r)) for r in implemented)
    # A judge that reads a TLS scan also needs the MX hosts whose addresses were scanned.
    for r in catalogue:
        if "tls" in r.needs:
            assert "dns:mx" in r.needs or "dns:dane" in r.needs, r.id


def test_every_requirement_is_complete(catalogue: Catalogue) -> None:
    for r in catalogue:
        assert isinstance(r, Requirement)
        assert r.area == r.prefix.lower()
        assert r.title and r.criterion and r.remediation
        assert r.sources
        assert not r.title.endswith(".")
        for ref, source in catalogue.cited(r):
            assert ref.startswith(source.key)


def test_sources_are_declared_with_https_urls(catalogue: Catalogue) -> None:
    assert EXPECTED_SOURCE_KEYS <= set(catalogue.sources)
    for key, source in catalogue.sources.items():
        assert isinstance(source, Source)
        assert source.key == key
        assert source.url.startswith("https://")
    for key in catalogue.sources:
        if key.startswith("RFC"):
            assert catalogue.sources[key].url == f"https://www.rfc-editor.org/rfc/{key.lower()}"
    used = {ref.split()[0] for r in catalogue for ref in r.sources}
    assert used == set(catalogue.sources), "every declared source is cited at least once"


def test_lookup_api(catalogue: Catalogue) -> None:
    assert "DMARC-06" in catalogue
    assert "DMARC-07" not in catalogue  # withdrawn
    assert "DMARC-99" not in catalogue
    assert catalogue.get("DMARC-99") is None
    assert catalogue.get("DMARC-07") is None
    assert catalogue.get("DMARC-06") is catalogue["DMARC-06"]
    assert catalogue.record("DMARC-99") is None
    with pytest.raises(KeyError, match="DMARC-99"):
        catalogue["DMARC-99"]
    assert [r.id for r in catalogue] == list(catalogue.ids())
    assert len(catalogue.records) == len(catalogue) + len(catalogue.withdrawn)


def test_catalogue_is_immutable(catalogue: Catalogue) -> None:
    with pytest.raises(TypeError):
        catalogue.sources["X"] = Source("X", "x", "https://x")  # type: ignore[index]
    with pytest.raises(AttributeError):
        catalogue.extra = 1  # type: ignore[attr-defined]
    requirement = catalogue["MX-01"]
    with pytest.raises(AttributeError):
        requirement.level = Level.SHOULD  # type: ignore[misc]


def test_levels_and_scopes_are_str_enums() -> None:
    assert [level.value for level in Level] == ["must", "should", "advisory"]
    assert isinstance(Level.MUST, str)
    assert Level("should") is Level.SHOULD
    assert Scope("host") is Scope.HOST
    assert str(Level.ADVISORY) == "advisory"


# --- validation -----------------------------------------------------------------------------

GOOD = """\
version = "2"

[[changelog]]
version = "1"
date = 2026-01-01
changes = ["First."]

[[changelog]]
version = "2"
date = 2026-02-01
changes = ["Withdrew SPF-03."]
withdrawn = ["SPF-03"]
added = ["SPF-02"]

[sources.G1]
title = "Securing government email"
url = "https://www.gov.uk/guidance/securing-government-email"

[sources.RFC7208]
title = "SPF"
url = "https://www.rfc-editor.org/rfc/rfc7208"

[[requirement]]
id = "SPF-01"
title = "One SPF record"
level = "must"
level_source = "RFC7208 §3.2"
level_quote = "A domain name MUST NOT have multiple records."
area = "spf"
applies_to = ["all"]
scope = "domain"
criterion = "Exactly one TXT starting v=spf1."
sources = ["G1", "RFC7208 §4.5"]
remediation = "Publish one SPF record."
needs = ["dns:spf"]
judge = "spf.spf_single_record"

[[requirement]]
id = "SPF-02"
title = "SPF parses"
level = "must"
level_source = "G1"
level_quote = "have SPF records in place"
area = "spf"
applies_to = ["receiving", "sending"]
scope = "domain"
criterion = "Every term parses."
sources = ["RFC7208 §5"]
remediation = "Fix the record."
needs = ["dns:spf"]

[[requirement]]
id = "SPF-03"
title = "Old rule"
level = "should"
level_source = "G1"
level_quote = "an old sentence"
area = "spf"
applies_to = ["all"]
scope = "domain"
criterion = "Something."
sources = ["G1"]
remediation = "Nothing to do."
needs = ["dns:spf"]
withdrawn = { date = 2026-02-01, reason = "The guidance dropped it.", replaced_by = ["SPF-01"] }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalogue.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_good_file_loads(tmp_path: Path) -> None:
    catalogue = load_catalogue(write(tmp_path, GOOD))
    assert catalogue.ids() == ("SPF-01", "SPF-02")
    assert [r.id for r in catalogue.withdrawn] == ["SPF-03"]
    assert catalogue.record("SPF-03").withdrawn.replaced_by == ("SPF-01",)  # type: ignore[union-attr]
    assert catalogue["SPF-01"].level_source == "RFC7208 §3.2"
    assert catalogue.changelog[-1].withdrawn == ("SPF-03",)
    assert catalogue["SPF-02"].applies_to == frozenset({"receiving", "sending"})
    assert catalogue["SPF-01"].sources == ("G1", "RFC7208 §4.5")
    assert catalogue.areas() == ("spf",)
    assert list(catalogue.sources) == ["G1", "RFC7208"]
    assert catalogue["SPF-01"].needs == ("dns:spf",)
    assert catalogue["SPF-01"].judge == "spf.spf_single_record"
    assert catalogue["SPF-01"].implemented and not catalogue["SPF-02"].implemented


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            'id = "SPF-02"', 'id = "SPF-01"', r"#2 \(SPF-01\): field 'id': duplicate", id="dup"
        ),
        pytest.param('id = "SPF-02"', 'id = "SPF-2"', r"#2 \(SPF-2\): field 'id'", id="id-format"),
        pytest.param(
            'level = "must"\nlevel_source = "G1"',
            'level = "mandatory"\nlevel_source = "G1"',
            r"#2 \(SPF-02\): field 'level': 'mandatory' is not one of must, should, advisory",
            id="level",
        ),
        pytest.param(
            'sources = ["RFC7208 §5"]',
            'sources = ["RFC9999 §5"]',
            r"#2 \(SPF-02\): field 'sources': 'RFC9999 §5' does not start with a declared",
            id="unknown-source",
        ),
        pytest.param(
            'sources = ["RFC7208 §5"]',
            'sources = ["RFC72080"]',
            r"field 'sources': 'RFC72080'",
            id="source-prefix-is-not-a-key",
        ),
        pytest.param(
            'area = "spf"\napplies_to = ["receiving"',
            'area = "dmarc"\napplies_to = ["receiving"',
            r"#2 \(SPF-02\): field 'area': 'dmarc' differs from 'spf' given for SPF-01",
            id="area-mismatch",
        ),
        pytest.param(
            'scope = "domain"\ncriterion = "Every',
            'scope = "mx"\ncriterion = "Every',
            r"field 'scope': 'mx'",
            id="scope",
        ),
        pytest.param(
            '["receiving", "sending"]',
            '["receiving", "everyone"]',
            r"field 'applies_to': 'everyone'",
            id="applies-to",
        ),
        pytest.param(
            '["receiving", "sending"]',
            '["all", "sending"]',
            r"field 'applies_to': 'all' must stand alone",
            id="all-alone",
        ),
        pytest.param('["receiving", "sending"]', "[]", r"field 'applies_to'", id="applies-empty"),
        pytest.param(
            'remediation = "Fix the record."\n',
            "",
            r"missing field\(s\): remediation",
            id="missing-field",
        ),
        pytest.param(
            'title = "SPF parses"',
            'title = "SPF parses"\nnote = "x"',
            r"#2 \(SPF-02\): unknown field\(s\): note",
            id="unknown-field",
        ),
        pytest.param(
            'title = "SPF parses"',
            "title = 3",
            r"field 'title': expected a string",
            id="title-type",
        ),
        pytest.param('version = "2"\n', 'version = "3"\n', r"field 'version'", id="version"),
        pytest.param(
            'level_source = "G1"\nlevel_quote = "have SPF records in place"\n',
            "",
            r"#2 \(SPF-02\): missing field\(s\): level_source, level_quote",
            id="level-citation-required",
        ),
        pytest.param(
            'level_source = "G1"\nlevel_quote = "have',
            'level_source = "G9"\nlevel_quote = "have',
            r"field 'level_source': 'G9' does not start with a declared",
            id="level-source-unknown",
        ),
        pytest.param(
            'level_quote = "have SPF records in place"',
            'level_quote = "' + "x" * 401 + '"',
            r"field 'level_quote': 401 characters",
            id="level-quote-too-long",
        ),
        pytest.param(
            'withdrawn = ["SPF-03"]\n',
            "",
            r"SPF-03: field 'withdrawn': no changelog entry lists it",
            id="withdrawn-not-in-changelog",
        ),
        pytest.param(
            'withdrawn = { date = 2026-02-01, reason = "The guidance dropped it.", '
            'replaced_by = ["SPF-01"] }\n',
            "",
            r"changelog version 2: field 'withdrawn': SPF-03 is withdrawn and may never come back",
            id="withdrawn-id-comes-back",
        ),
        pytest.param(
            'replaced_by = ["SPF-01"]',
            'replaced_by = ["SPF-03"]',
            r"'withdrawn.replaced_by': 'SPF-03' is not a requirement in force",
            id="replaced-by-itself",
        ),
        pytest.param(
            'replaced_by = ["SPF-01"]',
            'replaced_by = ["SPF-09"]',
            r"'withdrawn.replaced_by': 'SPF-09' is not a requirement in force",
            id="replaced-by-unknown",
        ),
        pytest.param(
            'withdrawn = { date = 2026-02-01, reason = "The guidance dropped it.",',
            'judge = "spf.spf_single_record"\nwithdrawn = { date = 2026-02-01, reason = "x",',
            r"#3 \(SPF-03\): field 'judge': a withdrawn requirement is never run",
            id="withdrawn-with-judge",
        ),
        pytest.param(
            "withdrawn = { date = 2026-02-01,",
            'withdrawn = { date = "soon",',
            r"field 'withdrawn.date': 'soon' is not a date",
            id="withdrawn-date",
        ),
        pytest.param(
            'reason = "The guidance dropped it.", ',
            'reason = "The guidance dropped it.", note = "x", ',
            r"field 'withdrawn': unknown field\(s\): note",
            id="withdrawn-unknown-field",
        ),
        pytest.param(
            '[[changelog]]\nversion = "2"\ndate = 2026-02-01',
            '[[changelog]]\nversion = "3"\ndate = 2026-02-01',
            r"changelog entry #2: field 'version': 3 does not follow 1",
            id="changelog-gap",
        ),
        pytest.param(
            'version = "2"\ndate = 2026-02-01',
            'version = "2"\ndate = 2025-02-01',
            r"changelog entry #2: field 'date': before the previous",
            id="changelog-date-order",
        ),
        pytest.param(
            'added = ["SPF-02"]',
            'added = ["SPF-04"]',
            r"changelog version 2: field 'added': no record 'SPF-04'",
            id="changelog-unknown-id",
        ),
        pytest.param(
            'url = "https://www.rfc-editor.org/rfc/rfc7208"',
            'url = "http://x"',
            r"source 'RFC7208': field 'url'",
            id="url",
        ),
        pytest.param(
            "[[requirement]]", "[[requirements]]", r"unknown top-level key", id="top-level"
        ),
        pytest.param(
            'Fix the record."\nneeds = ["dns:spf"]',
            'Fix the record."\nneeds = ["dns:spf", "scan"]',
            r"#2 \(SPF-02\): field 'needs': \['dns:spf', 'scan'\] is not a list of",
            id="needs-word",
        ),
        pytest.param(
            'Fix the record."\nneeds = ["dns:spf"]',
            'Fix the record."\nneeds = "dns:spf"',
            r"field 'needs'",
            id="needs-type",
        ),
        pytest.param(
            'judge = "spf.spf_single_record"',
            'judge = "pytest_govmail.judge.spf:spf_single_record"',
            r"#1 \(SPF-01\): field 'judge': .* is not MODULE.FUNCTION",
            id="judge-form",
        ),
    ],
)
def test_bad_files_are_rejected(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(path)


def test_one_prefix_per_area(tmp_path: Path) -> None:
    text = GOOD.replace('id = "SPF-02"', 'id = "SENDER-02"')
    with pytest.raises(CatalogueError, match=r"'spf' is already the area of ID prefix 'SPF'"):
        load_catalogue(write(tmp_path, text))


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="not valid TOML"):
        load_catalogue(write(tmp_path, GOOD + "\n[[requirement]\n"))
    with pytest.raises(CatalogueError, match="cannot read"):
        load_catalogue(tmp_path / "absent.toml")


def test_catalogue_error_is_a_value_error() -> None:
    assert issubclass(CatalogueError, ValueError)


# --- Markdown -------------------------------------------------------------------------------

ROW = re.compile(r"^\| ([A-Z]+-\d{2}) \|(.*)\| ([a-z ]+) \|$")


def rows(markdown: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in markdown.splitlines():
        match = ROW.match(line)
        if match:
            assert match.group(1) not in found, f"{match.group(1)} listed twice"
            found[match.group(1)] = match.group(3)
    return found


def test_markdown_lists_every_id_once_with_status(catalogue: Catalogue) -> None:
    implemented = {"MX-01", "DMARC-03", "SPF-05"}
    markdown = markdown_table(catalogue, implemented)
    status = rows(markdown)
    assert list(status) == list(catalogue.ids())
    for rid, text in status.items():
        assert text == ("tested" if rid in implemented else "not implemented yet")


def test_markdown_has_one_heading_and_table_per_area(catalogue: Catalogue) -> None:
    markdown = markdown_table(catalogue, ())
    headings = [line[4:] for line in markdown.splitlines() if line.startswith("### ")]
    areas = [AREA_TITLES[a] for a in catalogue.areas() if catalogue.in_area(a)]
    assert headings == [*areas, "Withdrawn requirements", "Catalogue changelog"]
    # An area whose every requirement is withdrawn has no table of its own (PTR, until PTR-02).
    assert {
        "MX and reachability",
        "TLS on each MX",
        "Certificates",
        "MTA-STS",
        "TLS-RPT",
        "SPF",
        "DMARC",
        "DKIM",
        "Parked domains",
        "DNSSEC",
        "DANE",
        "Attestations",
        "DMARC and TLS-RPT reports",
    } <= set(areas)
    header = "| ID | Level | Applies to | Scope | Passes when | Sources | Level set by | Status |"
    assert markdown.count(header) == len(areas)
    assert "| DMARC-07 | DMARC reports go to NCSC Mail Check | 2026-03-31 | DMARC-09 |" in markdown
    assert "- **Version 2** (2026-12-03)" in markdown
    assert set(rows(markdown).values()) == {"not implemented yet"}
    assert "| MX-03 | must | all | domain |" in markdown
    assert "| MX-04 | must | receiving | host |" in markdown
    assert "| DKIM-01 | must | sending | domain |" in markdown


def test_markdown_marks_levels_that_only_mail_check_or_the_supplier_guide_set(
    catalogue: Catalogue,
) -> None:
    markdown = markdown_table(catalogue, ())
    for record in catalogue:
        line = next(row for row in markdown.splitlines() if row.startswith(f"| {record.id} |"))
        key = record.level_source.split()[0]
        marked = "**only source: " in line
        assert marked == (key in {"MC", "SEED"}), record.id
    assert "| CERT-04 | should |" in markdown
    cert04 = next(row for row in markdown.splitlines() if row.startswith("| CERT-04 |"))
    assert "**only source: NCSC Mail Check's code.** MC MailCheck.Mx.TlsEvaluator" in cert04


def test_markdown_escapes_pipes(tmp_path: Path) -> None:
    text = GOOD.replace("Every term parses.", "a | b\\nc")
    catalogue = load_catalogue(write(tmp_path, text))
    markdown = markdown_table(catalogue, ["SPF-02"])
    assert "| a \\| b c |" in markdown
    for line in markdown.splitlines():
        if line.startswith("| SPF-"):
            cells = 6 if line.startswith("| SPF-03 ") else 9  # the withdrawn table has 5 columns
            assert line.replace("\\|", "").count("|") == cells


def test_markdown_rejects_unknown_ids(catalogue: Catalogue) -> None:
    with pytest.raises(ValueError, match="XX-01"):
        markdown_table(catalogue, {"XX-01"})


def test_main_prints_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["MX-01,MX-02", "SPF-01"]) == 0
    status = rows(capsys.readouterr().out)
    assert [rid for rid, text in status.items() if text == "tested"] == [
        "MX-01",
        "MX-02",
        "SPF-01",
    ]
    assert main([]) == 0  # no IDs given: the records that name a judge are tested
    tested = {rid for rid, text in rows(capsys.readouterr().out).items() if text == "tested"}
    assert tested == {r.id for r in load_catalogue() if r.implemented}


def test_main_reports_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["NOPE-01"]) == 2
    assert "NOPE-01" in capsys.readouterr().err
    bad = write(tmp_path, GOOD.replace('level = "must"', 'level = "maybe"', 1))
    assert main(["--catalogue", str(bad)]) == 2
    assert "field 'level'" in capsys.readouterr().err
