"""A run too large for one process stops before collecting, naming the sweep that does the same
work; every run's summary says where its time went.

The memory estimate is a table here (its figures are measured in
:mod:`pytest_govmail.engine.memory`'s docstring); the stop and the time lines through pytester,
against the demo lab's real servers on loopback.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

import pytest

from pytest_govmail.engine import memory
from pytest_govmail.inputs.catalogue import load_catalogue
from pytest_govmail.lab.demo import DemoLab, start_demo_lab
from pytest_govmail.plugin.configure import check_memory
from pytest_govmail.sweep.arguments import sweep_command

BASE = ["-p", "no:cacheprovider", "-p", "no:randomly"]
GIB = 2**30


def test_tests_per_domain_counts_host_requirements_per_assumed_host() -> None:
    catalogue = load_catalogue()
    implemented = [r for r in catalogue if r.implemented]
    hosts = sum(1 for r in implemented if r.per_host)
    expected = len(implemented) - hosts + hosts * memory.ASSUMED_HOSTS_PER_DOMAIN
    assert memory.tests_per_domain(catalogue.requirements) == expected
    # Records not implemented make no tests.
    assert memory.tests_per_domain([r for r in catalogue if not r.implemented]) == 0


@pytest.mark.parametrize(
    ("domains", "workers", "at_least_gib", "at_most_gib"),
    [
        # The 1,000-domain replay measured 619 MiB with 79 tests a domain (1.4 MX hosts): the
        # estimate, counting two hosts, is above that and within twice it.
        (1_000, 0, 0.6, 1.2),
        # Five times the tests, five times the memory less the base.
        (5_000, 0, 3.0, 6.0),
        # 50,000 would exhaust a 24 GB machine.
        (50_000, 0, 24.0, 60.0),
        # Under pytest-xdist every worker holds every test, and the controller every report.
        (1_000, 2, 2.25, 4.5),
    ],
)
def test_estimate_against_measured_runs(
    domains: int, workers: int, at_least_gib: float, at_most_gib: float
) -> None:
    need = memory.estimate(domains, load_catalogue().requirements, workers=workers)
    assert need.processes == workers + 1
    assert at_least_gib * GIB <= need.bytes_needed <= at_most_gib * GIB, need.gib()


@pytest.mark.parametrize(
    ("meminfo", "expected"),
    [
        ("MemTotal:       24683568 kB\nMemAvailable:   24159284 kB\n", 24159284 * 1024),
        ("MemAvailable: 10 kB\n", 10 * 1024),
    ],
)
def test_available_bytes_reads_memavailable(meminfo: str, expected: int) -> None:
    assert memory.available_bytes(meminfo) == expected


@pytest.mark.parametrize(
    "meminfo", ["", "MemAvailable:\n", "MemAvailable: lots kB\n", "garbage\x00\n"]
)
def test_available_bytes_without_memavailable_asks_the_system(meminfo: str) -> None:
    """A /proc/meminfo without a readable MemAvailable falls back to free physical pages."""
    found = memory.available_bytes(meminfo)
    assert found is None or found > 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--govmail-domains-file=d.csv"], "govmail-sweep --govmail-domains-file=d.csv"),
        (
            ["-n", "4", "--govmail-domains-file", "d.csv", "-m", "dmarc"],
            "govmail-sweep --govmail-domains-file d.csv -m dmarc",
        ),
        (["-n4", "--html", "page.html", "-k", "SPF"], "govmail-sweep -k SPF"),
        (
            ["--numprocesses=2", "--govmail-ignore-memory-estimate", "--govmail-domain=a b"],
            "govmail-sweep '--govmail-domain=a b'",
        ),
    ],
)
def test_sweep_command_drops_what_a_sweep_runs_its_own_way(args: list[str], expected: str) -> None:
    command = sweep_command(args)
    assert command == expected
    assert shlex.split(command)[0] == "govmail-sweep"


def test_check_memory_stops_and_the_override_runs(pytester: pytest.Pytester) -> None:
    """With a real pytest configuration: a million domains do not fit this machine (the
    estimate is about a terabyte); the override lets it through; evidence-only runs hold no
    tests, so they are never stopped (see ``build_run``)."""
    catalogue = load_catalogue()
    config = pytester.parseconfig("--govmail-domains-file=all.csv")
    with pytest.raises(pytest.UsageError) as stopped:
        check_memory(config, 1_000_000, catalogue)
    message = str(stopped.value)
    assert "1,000,000 domains" in message
    assert "govmail-sweep --govmail-domains-file=all.csv" in message
    assert "--govmail-ignore-memory-estimate" in message
    assert re.search(r"about [\d.]+ GiB of memory", message)
    forced = pytester.parseconfig(
        "--govmail-domains-file=all.csv", "--govmail-ignore-memory-estimate"
    )
    check_memory(forced, 1_000_000, catalogue)
    # A run of the demo's size passes without a word.
    check_memory(config, 52, catalogue)


def test_a_run_too_large_stops_before_collecting(pytester: pytest.Pytester) -> None:
    """End to end: a domains file a quarter more than this machine can hold stops with a
    usage error (exit 4) before any DNS question, naming the sweep command with the same file."""
    available = memory.available_bytes()
    if available is None:
        pytest.skip("this system tells no available memory, so no run is stopped")
    requirements = load_catalogue().requirements
    per_domain = memory.estimate(1, requirements).bytes_needed - memory.BASE_BYTES
    count = int(available * 1.25 / per_domain)
    domains = pytester.path / "all.txt"
    domains.write_text("".join(f"d{i}.gov.uk\n" for i in range(count)), encoding="ascii")
    result = pytester.runpytest_subprocess(
        "--govmail-domains-file=all.txt", "--govmail-nameserver=127.0.0.1:9", *BASE
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.errlines
    assert any(f"{count:,} domains would make about" in line for line in err), err
    sweep = next(line.strip() for line in err if line.strip().startswith("govmail-sweep "))
    assert "--govmail-domains-file=all.txt" in shlex.split(sweep), sweep
    assert not any("asking DNS" in line for line in result.outlines)


@pytest.fixture(scope="module")
def lab() -> Iterator[DemoLab]:
    running = start_demo_lab()
    yield running
    running.stop()


def test_summary_says_where_the_time_went(pytester: pytest.Pytester, lab: DemoLab) -> None:
    result = pytester.runpytest_subprocess(
        *lab.cli_args(), "--govmail-domain=ancient-tls-dept.gov.uk", *BASE
    )
    lines = [line for line in result.outlines if line.startswith("govmail: time: ")]
    assert len(lines) == 2, result.outlines
    collecting, running = lines
    figures = re.fullmatch(
        r"govmail: time: collecting ([\d.]+) s, its phases overlapping: "
        r"DNS ([\d.]+) s \((\d+) answers(, \d+ failed)?\); "
        r"TLS scans ([\d.]+) s \((\d+) address\(es\), (\d+) handshakes\); "
        r"MTA-STS ([\d.]+) s \((\d+) policy fetch\(es\)\)",
        collecting,
    )
    assert figures, collecting
    assert int(figures[3]) > 0 and int(figures[6]) >= 1 and int(figures[7]) >= 1
    ran = re.fullmatch(
        r"govmail: time: running the tests ([\d.]+) s \((\d+) tests: "
        r"(waiting for scans and fetches [\d.]+ s, )?judging ([\d.]+) s\); "
        r"writing reports ([\d.]+) s \(JUnit, HTML\)",
        running,
    )
    assert ran, running
    # Every test counted once, as pytest's own final line counts them.
    final = re.findall(r"(\d+) \w+", result.outlines[-1].split(" in ")[0])
    assert int(ran[2]) == sum(int(n) for n in final)


def test_a_replay_says_nothing_was_asked(pytester: pytest.Pytester, lab: DemoLab) -> None:
    evidence = pytester.path / "evidence.json"
    first = pytester.runpytest_subprocess(
        *lab.cli_args(),
        "--govmail-domain=ancient-tls-dept.gov.uk",
        f"--govmail-evidence-out={evidence}",
        *BASE,
    )
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    replayed = pytester.runpytest_subprocess(f"--govmail-replay={evidence}", *BASE)
    assert (
        "govmail: time: replayed evidence: nothing asked, scanned or fetched" in replayed.outlines
    )
    assert any(line.startswith("govmail: time: running the tests ") for line in replayed.outlines)


def test_pytest_html_hooks_hold_report_data_only_when_pytest_html_writes(
    pytester: pytest.Pytester,
) -> None:
    """pytest-html is a dependency, so its plugin is always loaded; our hooks for its rows keep
    each report's data until pytest-html renders the row, which it does only under --html.
    Registered without it they held every report's data to the end (40 MiB a 500-domain
    batch)."""
    from pytest_govmail.lab.last_month import LAST_MONTH_FILE

    pytester.makeconftest(
        "import pytest\n"
        "@pytest.hookimpl(trylast=True)\n"
        "def pytest_sessionfinish(session):\n"
        "    plugin = session.config.pluginmanager.get_plugin('govmail-html')\n"
        "    print('govmail-html registered:', plugin is not None)\n"
    )
    replay = [f"--govmail-replay={LAST_MONTH_FILE}", "--govmail-domain=exemplary-dept.gov.uk"]
    plain = pytester.runpytest_subprocess(*replay, *BASE, "-s")
    assert "govmail-html registered: False" in plain.stdout.str()
    with_html = pytester.runpytest_subprocess(*replay, *BASE, "-s", "--html=ph.html")
    assert "govmail-html registered: True" in with_html.stdout.str()
    assert "govmail-evidence" in (pytester.path / "ph.html").read_text("utf-8")
