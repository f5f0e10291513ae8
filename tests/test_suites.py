"""The packaged suites against the catalogue, and the README's generated catalogue."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from pytest_govmail.inputs.catalogue import load_catalogue
from pytest_govmail.inputs.catalogue_markdown import markdown_table, render_readme
from pytest_govmail.plugin import suites_dir

ROOT = Path(__file__).resolve().parents[1]


def suite_areas() -> dict[str, str]:
    """Area -> the packaged suite test that runs it, read from the suites' decorators."""
    found: dict[str, str] = {}
    for path in sorted(suites_dir().glob("test_*.py")):
        for node in ast.parse(path.read_text("utf-8")).body:
            if not isinstance(node, ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and getattr(deco.func, "attr", "") == "requirements":
                    (keyword,) = deco.keywords
                    assert keyword.arg == "area" and isinstance(keyword.value, ast.Constant)
                    area = str(keyword.value.value)
                    assert area not in found, f"two suite tests for area {area}"
                    found[area] = f"{path.name}::{node.name}"
    return found


def test_every_area_with_a_judged_requirement_has_one_suite_test() -> None:
    catalogue = load_catalogue()
    judged = {r.area for r in catalogue if r.implemented}
    assert set(suite_areas()) == judged


def test_suite_tests_hold_no_logic() -> None:
    """A suite test is a marker, a docstring and ``govmail.check()``: the record says the rest."""
    for area, location in suite_areas().items():
        filename, function = location.split("::")
        module = importlib.import_module(f"pytest_govmail.suites.{filename.removesuffix('.py')}")
        fn = getattr(module, function)
        (marker,) = fn.pytestmark
        assert marker.name == "requirements" and marker.kwargs == {"area": area}
        tree = ast.parse(Path(module.__file__ or "").read_text("utf-8"))
        (node,) = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        body = node.body[1:] if ast.get_docstring(node) else node.body
        assert [ast.unparse(b) for b in body] == ["govmail.check()"], location
        doc = " ".join((module.__doc__ or "").split())
        assert f'area "{area}"' in doc, f"{location}: say which area it runs"


def test_readme_catalogue_is_generated_from_the_data() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    catalogue = load_catalogue()
    table = markdown_table(catalogue, {r.id for r in catalogue if r.implemented})
    assert render_readme(readme, table) == readme, (
        "README.md's catalogue is stale: run "
        "python -m pytest_govmail.inputs.catalogue_markdown --readme README.md"
    )
    for requirement in catalogue:
        assert f"| {requirement.id} |" in readme


def test_a_test_of_ones_own_runs_named_requirements(pytester: pytest.Pytester) -> None:
    """``@requirements(ids=[...])`` and ``@requirement(id)`` select records one by one, and the
    test IDs name the requirement, so that ``-k DMARC-03`` selects it."""
    pytester.makepyfile(
        test_own="""
        import pytest

        @pytest.mark.requirements(ids=["DMARC-03", "SPF-01"])
        def test_mine(govmail):
            govmail.check()

        @pytest.mark.requirement("MX-03")
        def test_one(govmail):
            govmail.check()
        """
    )
    evidence = ROOT / "tests" / "data" / "release-0.1.0-demo-evidence.json"
    result = pytester.runpytest(
        "test_own.py",
        f"--govmail-replay={evidence}",
        "--govmail-domain=monitoring-dept.gov.uk",
        "--govmail-no-reports",
        "-v",
        "-k",
        "DMARC-03 or MX-03",
    )
    result.stdout.fnmatch_lines(
        [
            "*test_mine?DMARC-03/monitoring-dept.gov.uk? FAILED*",
            "*test_one?MX-03/monitoring-dept.gov.uk? PASSED*",
            "*1 failed, 1 passed, 1 deselected*",
        ]
    )


def test_a_requirement_judged_after_the_evidence_was_written_is_inconclusive_on_replay(
    pytester: pytest.Pytester,
) -> None:
    """0.1.0 did not judge DNSSEC-01, so its evidence holds no DNSSEC validation: a replay says
    so (ERROR, "could not tell") rather than judging the domain unsigned."""
    pytester.makepyfile(
        test_own="""
        import pytest

        @pytest.mark.requirement("DNSSEC-01")
        def test_dnssec(govmail):
            govmail.check()
        """
    )
    evidence = ROOT / "tests" / "data" / "release-0.1.0-demo-evidence.json"
    result = pytester.runpytest(
        "test_own.py",
        f"--govmail-replay={evidence}",
        "--govmail-domain=exemplary-dept.gov.uk",
        "--govmail-no-reports",
    )
    result.stdout.fnmatch_lines(["*DNSSEC-01 INCONCLUSIVE*it was not collected in this run*"])
    assert result.parseoutcomes() == {"errors": 1}


def test_a_check_of_ones_own_reads_each_domains_evidence(pytester: pytest.Pytester) -> None:
    """``govmail_subject`` gives an organisation's own test each domain's DNS evidence."""
    pytester.makepyfile(
        test_policy="""
        def test_dmarc_reports_reach_our_soc(govmail_subject):
            name = f"_dmarc.{govmail_subject.domain}"
            answer = govmail_subject.dns.get(name, "TXT")
            assert answer is not None and answer.error is None, f"no answer for {name}"
            assert any("rua=mailto:dmarc-rua@dmarc.service.gov.uk" in r for r in answer.records)
        """
    )
    evidence = ROOT / "tests" / "data" / "release-0.1.0-demo-evidence.json"
    result = pytester.runpytest(
        "test_policy.py",
        f"--govmail-replay={evidence}",
        "--govmail-domain=exemplary-dept.gov.uk",
        "--govmail-domain=bare-dept.gov.uk",
        "--govmail-no-reports",
        "-v",
    )
    result.stdout.fnmatch_lines(
        [
            "*test_dmarc_reports_reach_our_soc?bare-dept.gov.uk? FAILED*",
            "*test_dmarc_reports_reach_our_soc?exemplary-dept.gov.uk? PASSED*",
            "*1 failed, 1 passed*",
        ]
    )
