"""The plugin end to end, through pytester, against the demo lab's real DNS server on loopback."""

from __future__ import annotations

import html as html_lib
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from report_reader import report_tests

from pytest_govmail.inputs.catalogue import load_catalogue
from pytest_govmail.lab.demo import DemoLab, start_demo_lab
from pytest_govmail.lab.expected import EXPECTED

BASE = ["-p", "no:cacheprovider", "-p", "no:randomly"]


@pytest.fixture(scope="module")
def lab() -> Iterator[DemoLab]:
    running = start_demo_lab()
    yield running
    running.stop()


def lab_args(lab: DemoLab, *domains: str) -> list[str]:
    return [*lab.cli_args(), *(f"--govmail-domain={d}" for d in domains)]


def outcomes(junit: Path) -> dict[tuple[str, str, str], str]:
    """(requirement, domain, host) -> passed / failure / error / skipped, read from JUnit XML."""
    found: dict[tuple[str, str, str], str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        result = "passed"
        for tag in ("failure", "error", "skipped"):
            element = case.find(tag)
            if element is not None:
                result = "xfail" if element.get("type") == "pytest.xfail" else tag
        key = (props["govmail.requirement"], props["govmail.domain"], props.get("govmail.host", ""))
        found[key] = result
    return found


def test_demo_run_writes_reports_and_tells_the_story(pytester: pytest.Pytester) -> None:
    # A subprocess, as a user runs it: the demo starts and stops its own lab in that process.
    result = pytester.runpytest_subprocess("--govmail-demo", *BASE)
    result.stdout.fnmatch_lines(
        [
            "govmail: 23 domain(s); resolver 127.0.0.1:*",
            "*govmail summary*",
            "exemplary-dept.gov.uk *ok*",
            "unreachable-dept.gov.uk *ERR*",
        ]
    )
    junit = pytester.path / "reports" / "junit.xml"
    assert junit.exists() and (pytester.path / "reports" / "govmail.html").exists()
    got = outcomes(junit)
    hosts: dict[str, set[str]] = {}
    for _requirement, domain, host in got:
        if host:
            hosts.setdefault(domain, set()).add(host)
    seen: dict[str, dict[str, str]] = {}
    for (requirement, domain, host), outcome in got.items():
        word = {"passed": "pass", "failure": "fail", "error": "error", "skipped": "skip"}.get(
            outcome, outcome
        )
        # The table names the host only where a department has several.
        several = len(hosts.get(domain, ())) > 1
        if word != "pass":
            key = f"{requirement}@{host}" if several and host else requirement
            seen.setdefault(domain, {})[key] = word
    expected = {d: dict(v) for d, v in EXPECTED.items() if v}
    assert seen == expected
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_failure_message_names_requirement_observed_expected_fix(
    pytester: pytest.Pytester, lab: DemoLab
) -> None:
    result = pytester.runpytest(  # -v: each test's whole message (compact by default)
        *lab_args(lab, "monitoring-dept.gov.uk"), "-k", "dmarc_policy_enforced", "-v", *BASE
    )
    assert result.parseoutcomes()["failed"] == 1
    result.stdout.fnmatch_lines(
        [
            "*DMARC-03 FAIL monitoring-dept.gov.uk*",
            "*observed:*p=none*",
            "*expected:*quarantine*reject*",
            "*fix:*",
        ]
    )


def test_inconclusive_is_an_error_with_the_probe_reason(
    pytester: pytest.Pytester, lab: DemoLab
) -> None:
    result = pytester.runpytest(*lab_args(lab, "broken-dns-dept.gov.uk"), "-m", "dmarc", *BASE)
    outcome = result.parseoutcomes()
    assert outcome["errors"] == 8 and "passed" not in outcome and "failed" not in outcome
    result.stdout.fnmatch_lines(["*DMARC-01 INCONCLUSIVE broken-dns-dept.gov.uk*SERVFAIL*"])


#: The implemented MUST requirements of area mx, as the catalogue says today.
MUST_MX = {r.id for r in load_catalogue().in_area("mx") if r.level == "must" and r.implemented}


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        pytest.param(["-m", "dmarc"], {"DMARC"}, id="area"),
        pytest.param(["-m", "must and mx"], MUST_MX, id="level-and-area"),
        pytest.param(["-m", "requirement(id='TLSRPT-02')"], {"TLSRPT-02"}, id="marker-kwarg"),
        pytest.param(["-k", "null_mx_alone"], {"MX-03"}, id="keyword"),
    ],
)
def test_selection(
    pytester: pytest.Pytester, lab: DemoLab, selection: list[str], expected: set[str]
) -> None:
    pytester.runpytest(*lab_args(lab, "exemplary-dept.gov.uk"), *selection, *BASE)
    got = outcomes(pytester.path / "reports" / "junit.xml")
    ids = {k[0] for k in got}
    if expected == {"DMARC"}:
        assert ids and all(i.startswith("DMARC-") for i in ids)
    else:
        assert ids == expected


def test_keyword_selects_a_domain(pytester: pytest.Pytester, lab: DemoLab) -> None:
    pytester.runpytest(
        *lab_args(lab, "exemplary-dept.gov.uk", "monitoring-dept.gov.uk"),
        "-k",
        "monitoring",
        *BASE,
    )
    got = outcomes(pytester.path / "reports" / "junit.xml")
    assert {k[1] for k in got} == {"monitoring-dept.gov.uk"}


def test_junit_properties(pytester: pytest.Pytester, lab: DemoLab) -> None:
    result = pytester.runpytest(*lab_args(lab, "exemplary-dept.gov.uk"), "-m", "mx", *BASE)
    assert "PytestWarning" not in result.stdout.str()
    root = ET.parse(pytester.path / "reports" / "junit.xml").getroot()
    for case in root.iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert props["govmail.domain"] == "exemplary-dept.gov.uk"
        assert props["govmail.level"] in {"must", "should", "advisory"}
        assert props["govmail.requirement"].startswith("MX-")
        if props["govmail.requirement"] == "MX-02":
            assert props["govmail.host"].endswith(".exemplary-dept.gov.uk")


def test_html_report_has_matrix_and_escapes_hostile_records(
    pytester: pytest.Pytester, lab: DemoLab
) -> None:
    pytester.runpytest(*lab_args(lab, "hostile-dept.gov.uk", "exemplary-dept.gov.uk"), *BASE)
    html = (pytester.path / "reports" / "govmail.html").read_text()
    assert "Domains by requirement area" in html and "data-a='dmarc'>dmarc</i>" in html
    # Our two script elements only: the JSON data block and our own code.
    assert html.count("<script") == 2 and html.count("</script") == 2
    assert "<script>alert" not in html and "<svg onload" not in html
    assert "<img src=x" not in html and "\\u003cscript\\u003ealert" in html
    # The payloads are in the data, intact, for the page to show as text.
    tests = report_tests(html)
    assert {t["domain"] for t in tests} == {"hostile-dept.gov.uk", "exemplary-dept.gov.uk"}
    spf = next(t for t in tests if t["requirement"] == "SPF-02" and "hostile" in t["domain"])
    assert spf["status"] == "fail" and "<script>alert('spf')</script>" in spf["findings"][0][1]
    assert spf["sources"] and spf["level"] == "must" and spf["evidence"]


def test_pytest_html_on_request_with_our_additions(pytester: pytest.Pytester, lab: DemoLab) -> None:
    pytester.runpytest(
        *lab_args(lab, "hostile-dept.gov.uk"), "-m", "spf", "--html=ph/report.html", *BASE
    )
    html = (pytester.path / "ph" / "report.html").read_text()
    assert "Domains by requirement area" in html and "<script>alert" not in html
    # pytest-html keeps each test's log HTML in a JSON blob that its script inserts as markup:
    # our evidence must be escaped inside it.
    blob = html_lib.unescape(html.split('data-jsonblob="', 1)[1].split('"', 1)[0])
    assert "<script>alert" not in blob and "<svg onload" not in blob
    assert "&lt;script&gt;alert" in blob
    assert (pytester.path / "reports" / "govmail.html").exists()  # ours as well


def test_reports_can_be_redirected_or_turned_off(pytester: pytest.Pytester, lab: DemoLab) -> None:
    pytester.runpytest(
        *lab_args(lab, "exemplary-dept.gov.uk"), "-m", "mx", "--junitxml=out/j.xml", *BASE
    )
    assert (pytester.path / "out" / "j.xml").exists()
    assert not (pytester.path / "reports" / "junit.xml").exists()
    assert (pytester.path / "reports" / "govmail.html").exists()
    pytester.runpytest(
        *lab_args(lab, "exemplary-dept.gov.uk"),
        "-m",
        "mx",
        "--govmail-no-reports",
        "--govmail-report-dir=r2",
        *BASE,
    )
    assert not (pytester.path / "r2").exists()


def test_runs_and_reports_without_pytest_html(pytester: pytest.Pytester, lab: DemoLab) -> None:
    result = pytester.runpytest(
        *lab_args(lab, "exemplary-dept.gov.uk"),
        *("-k", "MX-01 or MX-02 or MX-03 or MX-04", "-p", "no:html", *BASE),
    )
    outcome = result.parseoutcomes()  # MX-01, MX-03, and MX-02 and MX-04 on both hosts
    assert outcome["passed"] == 6 and set(outcome) <= {"passed", "deselected"}, outcome
    result.stdout.fnmatch_lines(["govmail: report written to reports?govmail.html (* MiB) in * s"])
    tests = report_tests(pytester.path / "reports" / "govmail.html")
    assert sorted((t["requirement"], t["host"]) for t in tests) == [
        ("MX-01", ""),
        ("MX-02", "mail1.exemplary-dept.gov.uk"),
        ("MX-02", "mail2.exemplary-dept.gov.uk"),
        ("MX-03", ""),
        ("MX-04", "mail1.exemplary-dept.gov.uk"),
        ("MX-04", "mail2.exemplary-dept.gov.uk"),
    ]
    assert {t["outcome"] for t in tests} == {"passed"}


def test_replay_gives_identical_verdicts_offline(pytester: pytest.Pytester) -> None:
    evidence = pytester.path / "evidence.json"
    first = pytester.runpytest_subprocess(
        "--govmail-demo", f"--govmail-evidence-out={evidence}", *BASE
    )
    live = outcomes(pytester.path / "reports" / "junit.xml")
    saved = json.loads(evidence.read_text())
    assert saved["schema_version"] == 2 and saved["settings"]["resolver"].startswith("127.0.0.1")
    assert any(r.get("error") for r in saved["dns"])  # failures are evidence too
    (pytester.path / "reports" / "junit.xml").unlink()
    second = pytester.runpytest_subprocess(f"--govmail-replay={evidence}", *BASE)
    assert outcomes(pytester.path / "reports" / "junit.xml") == live
    assert first.parseoutcomes() == second.parseoutcomes()
    second.stdout.fnmatch_lines(["govmail: 23 domain(s); replaying * saved answers*"])


def test_replay_of_evidence_without_an_answer_is_inconclusive_not_failed(
    pytester: pytest.Pytester, lab: DemoLab
) -> None:
    evidence = pytester.path / "evidence.json"
    pytester.runpytest(
        *lab_args(lab, "exemplary-dept.gov.uk"),
        "-m",
        "mx or dmarc",
        f"--govmail-evidence-out={evidence}",
        *BASE,
    )
    # An evidence file from a run (or an older version) that never asked for _dmarc.
    data = json.loads(evidence.read_text())
    data["dns"] = [r for r in data["dns"] if not r["name"].startswith("_dmarc.")]
    evidence.write_text(json.dumps(data))
    result = pytester.runpytest(f"--govmail-replay={evidence}", "-m", "dmarc", *BASE)
    result.stdout.fnmatch_lines(["*DMARC-01 INCONCLUSIVE*not collected in this run*"])
    assert "failed" not in result.parseoutcomes()


def test_last_failed_reruns_only_failures(pytester: pytest.Pytester, lab: DemoLab) -> None:
    args = [*lab_args(lab, "exemplary-dept.gov.uk", "monitoring-dept.gov.uk"), "-m", "dmarc"]
    first = pytester.runpytest(*args)
    failed = first.parseoutcomes()["failed"]
    again = pytester.runpytest(*args, "--lf")
    assert again.parseoutcomes()["failed"] == failed
    assert "passed" not in again.parseoutcomes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--govmail-domain=https://a.gov.uk/"], "*looks like a URL*", id="url"),
        pytest.param(["--govmail-domain=a..gov.uk"], "*empty label*", id="empty-label"),
        pytest.param(["--govmail-domain=192.0.2.1"], "*IP address*", id="address"),
        pytest.param(
            ["--govmail-domains-file=absent.txt"], "*cannot read domains file*", id="no-file"
        ),
        pytest.param(
            ["--govmail-domain=a.gov.uk", "--govmail-nameserver=dns.example"],
            "*not an IP address*",
            id="nameserver",
        ),
        pytest.param(
            ["--govmail-domain=a.gov.uk", "--govmail-timeout=0"],
            "--govmail-timeout: 0 s; it must be more than 0 and at most 300 seconds",
            id="timeout",
        ),
        pytest.param(
            ["--govmail-domain=a.gov.uk", "--govmail-greeting-timeout=301"],
            "--govmail-greeting-timeout: 301 s; it must be more than 0 and at most 300 seconds*",
            id="greeting-timeout",
        ),
        pytest.param(["--govmail-domain="], "--govmail-domain: '' names no domain*", id="empty"),
        pytest.param(
            ["--govmail-domain=a.gov.uk", "--govmail-domains-file=d.txt"],
            "d.txt, line 2 looks like CSV but the file has no header row "
            "(domain,role,dkim_selectors)",
            id="csv-without-header",
        ),
        pytest.param(["--govmail-replay=absent.json"], "*cannot read evidence file*", id="replay"),
    ],
)
def test_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    pytester.makefile(".txt", d="# departments\nb.gov.uk,receiving,s1\n")
    result = pytester.runpytest(*args, *BASE)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_domains_file_error_names_the_line(pytester: pytest.Pytester) -> None:
    pytester.makefile(".csv", domains="domain,role\na.gov.uk,parked\nb.gov.uk,owner\n")
    result = pytester.runpytest("--govmail-domains-file=domains.csv", *BASE)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: domains.csv, line 3: unknown role 'owner'*"])


def test_corrupt_evidence_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".json", evidence='{"schema_version": 1, "targ')
    result = pytester.runpytest("--govmail-replay=evidence.json", *BASE)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*corrupt or truncated JSON*"])


def test_user_suite_with_unknown_requirement_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from pytest_govmail.judge import mx

        @pytest.mark.requirement(id="NOPE-01", judge=mx.mx_resolves)
        def test_x(govmail):
            govmail.check()
        """
    )
    pytester.makefile(
        ".json", e=json.dumps({"schema_version": 1, "targets": [{"domain": "a.gov.uk"}]})
    )
    result = pytester.runpytest(
        "--govmail-replay=e.json", "test_user_suite_with_unknown_requirement_is_refused.py", *BASE
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*unknown requirement id 'NOPE-01'*"])


def test_without_govmail_options_nothing_changes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain(): pass")
    result = pytester.runpytest(*BASE)
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "reports").exists()


def test_shards_replay_together_into_one_report(pytester: pytest.Pytester, lab: DemoLab) -> None:
    # exemplary and monitoring hash to shard 1 of 2, hostile to shard 2.
    domains = "--govmail-domain=exemplary-dept.gov.uk,monitoring-dept.gov.uk,hostile-dept.gov.uk"
    pytester.runpytest(*lab_args(lab), domains, "-m", "dmarc or spf", *BASE)
    whole = outcomes(pytester.path / "reports" / "junit.xml")
    for k in (1, 2):
        pytester.runpytest(
            *lab_args(lab),
            domains,
            "-m",
            "dmarc or spf",
            f"--govmail-shard={k}/2",
            f"--govmail-evidence-out=shard{k}.json",
            *BASE,
        )
    pytester.runpytest(
        "--govmail-replay=shard1.json", "--govmail-replay=shard2.json", "-m", "dmarc or spf", *BASE
    )
    assert outcomes(pytester.path / "reports" / "junit.xml") == whole
    shard_domains = [
        {t["domain"] for t in json.loads((pytester.path / f"shard{k}.json").read_text())["targets"]}
        for k in (1, 2)
    ]
    assert shard_domains == [
        {"exemplary-dept.gov.uk", "monitoring-dept.gov.uk"},
        {"hostile-dept.gov.uk"},
    ]


def test_xdist_collects_once_and_judges_the_same(pytester: pytest.Pytester, lab: DemoLab) -> None:
    domains = "--govmail-domain=exemplary-dept.gov.uk,monitoring-dept.gov.uk,legacy-tls-dept.gov.uk"
    args = [*lab_args(lab), domains, "-p", "no:benchmark", *BASE]
    before = lab.dns.queries_served
    pytester.runpytest_subprocess(*args, "--govmail-evidence-out=single.json")
    single_queries = lab.dns.queries_served - before
    single = outcomes(pytester.path / "reports" / "junit.xml")
    assert lab.services is not None
    smtp_before = sum(s.connections for s in lab.services.fleet)
    before = lab.dns.queries_served
    single_report = report_tests(pytester.path / "reports" / "govmail.html")
    result = pytester.runpytest_subprocess(*args, "-n", "2", "--govmail-evidence-out=xdist.json")
    assert "2 workers" in result.stdout.str()
    assert outcomes(pytester.path / "reports" / "junit.xml") == single
    # The controller writes the HTML report from the workers' reports: the same tests (their
    # TLS evidence differs: each run scanned afresh, at its own time).
    xdist_report = report_tests(pytester.path / "reports" / "govmail.html")
    keys = ("domain", "requirement", "host", "status", "outcome", "sources", "findings")
    assert len(xdist_report) == len(single_report) > 100

    def rows(report: list[dict[str, object]]) -> list[str]:
        # MTASTS-01's fix suggests an id stamped with its run's start, to the minute.
        return sorted(re.sub(r"id=\d{12}", "id=<run>", repr([t[k] for k in keys])) for t in report)

    assert rows(xdist_report) == rows(single_report)
    # Each DNS question and each MX address once for the whole run, not once per worker; the
    # DNSSEC walk's questions (DO set, DS and DNSKEY) are counted in the evidence's settings.
    assert lab.dns.queries_served - before == single_queries
    evidence = json.loads((pytester.path / "xdist.json").read_text())
    dnssec_questions = int(evidence["settings"]["dnssec_questions"])
    assert dnssec_questions > 0
    assert len(evidence["dns"]) + dnssec_questions == single_queries
    connections = sum(s["connections"] for s in evidence["tls"])
    assert sum(s.connections for s in lab.services.fleet) - smtp_before == connections


def test_progress_lines_while_collecting_and_quiet_under_q(
    pytester: pytest.Pytester, lab: DemoLab
) -> None:
    args = [*lab_args(lab, "exemplary-dept.gov.uk"), "-m", "tls", *BASE]
    loud = pytester.runpytest(*args)
    loud.stdout.fnmatch_lines(
        [
            "govmail: asking DNS for 1 domain(s)",
            "govmail: DNS: * answers (0 failed) in * s",
            "govmail: scanning TLS on 2 MX address(es)",
            "govmail: TLS: 2 address(es), * handshakes in * s",
        ]
    )
    quiet = pytester.runpytest(*args, "-q")
    assert "govmail: asking DNS" not in quiet.stdout.str()


def test_tls_evidence_is_readable_in_the_report(pytester: pytest.Pytester, lab: DemoLab) -> None:
    result = pytester.runpytest(
        *lab_args(lab, "legacy-tls-dept.gov.uk"), "-k", "old_tls_refused", *BASE
    )
    result.stdout.fnmatch_lines(
        [
            "*TLS-04 FAIL legacy-tls-dept.gov.uk (MX mx.legacy-tls-dept.gov.uk)*",
            "TLS scan of mx.legacy-tls-dept.gov.uk at 127.0.4.11:*handshake(s)*",
            "  TLSv1.0  accepted: *",
            "  TLSv1.2  accepted: *(server picks *)",
            "  certificate 0: CN=mx.legacy-tls-dept.gov.uk*RSA 2048 bits; sha256; valid * to *",
            "  trust (ca-file): validates: *",
        ]
    )
    html = (pytester.path / "reports" / "govmail.html").read_text()
    assert "TLSv1.0  accepted" in html


def test_an_empty_selection_leaves_the_last_reports_in_place(
    pytester: pytest.Pytester, lab: DemoLab
) -> None:
    args = [*lab_args(lab, "monitoring-dept.gov.uk"), *BASE]
    first = pytester.runpytest(*args, "-k", "DMARC-03")
    assert first.parseoutcomes()["failed"] == 1 and "passed" not in first.parseoutcomes()
    page, junit = (pytester.path / "reports" / n for n in ("govmail.html", "junit.xml"))
    before = page.read_bytes(), junit.read_bytes()
    assert b"DMARC-03" in before[1]
    empty = pytester.runpytest(*args, "-k", "DMARC-03-typo")
    assert empty.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    empty.stdout.fnmatch_lines(
        ["govmail: no test selected, so the last reports are left as they were (*govmail.html*)"]
    )
    assert (page.read_bytes(), junit.read_bytes()) == before
    assert not list((pytester.path / "reports").glob(".*"))  # nothing left aside


def test_an_empty_selection_with_no_earlier_report_writes_none(
    pytester: pytest.Pytester, lab: DemoLab
) -> None:
    result = pytester.runpytest(*lab_args(lab, "monitoring-dept.gov.uk"), "-k", "NOPE-99", *BASE)
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines(["govmail: no test selected, * (none written)"])
    assert not list((pytester.path / "reports").glob("*"))


@pytest.mark.parametrize(
    ("keyword", "expected"),
    [
        ("DMARC-03", {"DMARC-03"}),
        ("SPF and not SPF-06", {f"SPF-0{n}" for n in range(1, 10)} - {"SPF-06"}),
    ],
)
def test_k_selects_by_requirement_id(
    pytester: pytest.Pytester, lab: DemoLab, keyword: str, expected: set[str]
) -> None:
    junit = pytester.path / "k.xml"
    result = pytester.runpytest(
        *lab_args(lab, "monitoring-dept.gov.uk"), "-k", keyword, f"--junitxml={junit}", *BASE
    )
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
    got = {requirement for requirement, _domain, _host in outcomes(junit)}
    implemented = {r.id for r in load_catalogue() if r.implemented}
    wanted = expected & implemented
    # -k matches names, judges' names too: "SPF" also picks PARK-01's park_spf_... judge.
    assert wanted and wanted <= got and not {r for r in got if r.startswith("SPF")} - wanted
    if keyword == "DMARC-03":
        assert got == {"DMARC-03"}


def test_a_domain_that_does_not_exist_is_said_once_loudly_and_nothing_passes(
    pytester: pytest.Pytester, lab: DemoLab
) -> None:
    # A name under a lab zone that the zone does not hold: its server answers NXDOMAIN.
    typo = "typo.exemplary-dept.gov.uk"
    result = pytester.runpytest(*lab_args(lab, typo, "exemplary-dept.gov.uk"), *BASE)
    junit = pytester.path / "reports" / "junit.xml"
    got = {k: v for k, v in outcomes(junit).items() if k[1] == typo}
    assert got and set(got.values()) == {"error"}  # none passes, none fails with a fix
    assert any(v == "passed" for k, v in outcomes(junit).items() if k[1] != typo)
    result.stdout.fnmatch_lines(
        [
            f"*DMARC-01 INCONCLUSIVE {typo}: domain does not exist: NXDOMAIN for {typo} from "
            "resolver 127.0.0.1:* (a typo, a lapsed name or a filtering resolver)*",
            f"govmail: 1 domain(s) DO NOT EXIST (NXDOMAIN from 127.0.0.1:*): {typo}; every test*",
        ]
    )
    assert result.stdout.str().count("DO NOT EXIST") == 1
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    properties = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert properties["govmail.nxdomain"] == typo
    page = (pytester.path / "reports" / "govmail.html").read_text("utf-8")
    assert f"<strong>1 domain(s) do not exist</strong> (NXDOMAIN): {typo}." in page


def test_xdist_reports_the_waivers_its_workers_matched(
    pytester: pytest.Pytester, lab: DemoLab
) -> None:
    from pytest_govmail.lab.demo import DEMO_WAIVERS

    domains = "sprawling-spf-dept.gov.uk,dormant-dept.gov.uk,monitoring-dept.gov.uk"
    args = [
        *lab_args(lab, domains), f"--govmail-waivers={DEMO_WAIVERS}",
        "--govmail-waiver-horizon=36500", "-m", "spf or mx or dmarc",
        "-p", "no:benchmark", "-q", *BASE,
    ]  # fmt: skip

    def waiver_lines(result: pytest.RunResult) -> list[str]:
        lines = [line for line in result.outlines if "waiver" in line and "govmail:" in line]
        # The totals line ends with the collecting time, which differs from run to run.
        return [re.sub(r"collected in [0-9.]+ s", "collected in N s", line) for line in lines]

    single = pytester.runpytest_subprocess(*args)
    spread = pytester.runpytest_subprocess(*args, "-n", "2")
    assert waiver_lines(spread) == waiver_lines(single)
    assert not [line for line in waiver_lines(spread) if "matches no test" in line]
    spread.stdout.fnmatch_lines(
        [
            "govmail: 2 waiver(s) applied",
            "govmail: waiver applied to 1 test(s): SPF-06, *",
            "govmail: waiver applied to 1 test(s): MX-03, *",
            "govmail: waiver EXPIRED, no longer applied: DMARC-04 *",
        ]
    )
    # The workers collected; the controller says how long that took, not 0.00 s.
    collected = re.search(r"collected in ([0-9.]+) s", spread.stdout.str())
    assert collected is not None and float(collected.group(1)) > 0
