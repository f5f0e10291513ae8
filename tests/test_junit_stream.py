"""JUnit XML streamed to disk test by test is the file pytest's own writer writes.

pytest's JUnit writer keeps every test case's element tree to the end of the session;
:class:`~pytest_govmail.plugin.pytest_private.JUnitStream` serialises each one (with pytest's
own code) as soon as it is closed and splices them back at the end. Here the same project runs
with and without it, over every shape of test case pytest's writer knows: outcomes of every
phase, a failing call with a failing teardown (two test cases), a passing call with a failing
teardown (one), collect errors and skips, properties, captured output, and names no XML
document should hold raw. The files must be equal but for the times.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PROJECT = r"""
import sys
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("setup <broke> & ran")

@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("teardown broke")

def test_pass(record_property):
    record_property("govmail.requirement", "MX-01")
    print("said on stdout ]]> <&>")
    sys.stderr.write("said on stderr\x1b[31m\n")

def test_fail():
    assert 0, "observed <b>bold</b> & \x00 NUL"

def test_error(broken):
    pass

def test_fail_then_teardown(bad_teardown):
    assert 0

def test_pass_then_teardown(bad_teardown):
    pass

@pytest.mark.skip(reason="not <applicable>")
def test_skip():
    pass

@pytest.mark.xfail(reason="known")
def test_xfail():
    assert 0

@pytest.mark.xfail(strict=True, reason="fixed now")
def test_xpass():
    pass

def test_attrs(record_xml_attribute, record_testsuite_property):
    record_xml_attribute("assertions", "3")
    record_testsuite_property("sweep", "one & two")

@pytest.mark.parametrize("name", ["a]b", "ünï\u202ecode", "tab\there", "x" * 300])
def test_names(name):
    assert name != "a]b"
"""

CONFTEST = """
import pytest
from pytest_govmail.plugin.pytest_private import JUnitStream

def pytest_configure(config):
    if config.getoption("--stream", default=False):
        config.pluginmanager.register(JUnitStream(), "junit-stream")

def pytest_addoption(parser):
    parser.addoption("--stream", action="store_true")

@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    from _pytest.junitxml import xml_key
    xml = session.config.stash.get(xml_key, None)
    if xml is not None:
        with open("held.txt", "w") as out:
            out.write(str(len(xml.node_reporters_ordered)))
"""


def _normal(path: Path) -> str:
    text = path.read_text("utf-8")
    return re.sub(r' (time|timestamp|hostname)="[^"]*"', "", text)


def _testcases(path: Path) -> list[str]:
    return sorted(re.findall(r"<testcase .*?(?:/>|</testcase>)", _normal(path), re.S))


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_shapes=PROJECT)
    pytester.makepyfile(test_broken_import="import not_a_module_anywhere\n")
    pytester.makepyfile(
        test_skipped_module="import pytest\npytest.skip('whole module', allow_module_level=True)\n"
    )
    return pytester


@pytest.mark.parametrize(
    "options",
    [[], ["-o", "junit_logging=all"], ["-o", "junit_family=xunit1"],
     ["-o", "junit_duration_report=call", "-o", "junit_log_passing_tests=false"]],
)  # fmt: skip
def test_streamed_junit_is_the_file_pytest_writes(
    project: pytest.Pytester, options: list[str]
) -> None:
    args = ["-p", "no:cacheprovider", "-p", "no:randomly", *options]
    project.runpytest_subprocess(*args, "--junitxml=plain.xml")
    streamed = project.runpytest_subprocess(*args, "--junitxml=out/streamed.xml", "--stream")
    assert streamed.ret == 2  # the collect error, as without streaming
    plain_xml, streamed_xml = project.path / "plain.xml", project.path / "out" / "streamed.xml"
    assert _normal(streamed_xml) == _normal(plain_xml)
    assert "<testcase" in _normal(plain_xml) and "\x00" not in _normal(plain_xml)
    # What pytest's writer still held at the end: the two collectors' cases it never closes
    # (streamed, they count as written) and the marker where the streamed cases go.
    assert (project.path / "held.txt").read_text() == "3"
    assert not list((project.path / "out").glob("*.govmail-part"))


def test_streamed_junit_under_xdist_holds_every_test_case(project: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    args = ["-p", "no:cacheprovider", "-p", "no:randomly", "-n", "2"]
    project.runpytest_subprocess(*args, "--junitxml=plain.xml")
    project.runpytest_subprocess(*args, "--junitxml=streamed.xml", "--stream")
    streamed = _testcases(project.path / "streamed.xml")
    assert streamed == _testcases(project.path / "plain.xml")
    assert len(streamed) == 16


def test_a_writer_without_the_marker_is_an_error_not_a_short_file(tmp_path: Path) -> None:
    from pytest_govmail.plugin.pytest_private import _splice

    written = tmp_path / "junit.xml"
    written.write_text("<testsuites><testsuite/></testsuites>", "utf-8")
    with open(tmp_path / "part", "w+", encoding="utf-8") as part:
        part.write("<testcase/>")
        with pytest.raises(RuntimeError, match="left out the test cases"):
            _splice(str(written), "<!--marker-->", part)
    assert written.read_text("utf-8") == "<testsuites><testsuite/></testsuites>"


def test_a_folder_that_cannot_be_written_fails_as_pytest_alone_fails(
    project: pytest.Pytester,
) -> None:
    """Streaming makes its part file beside the JUnit file when the session starts; where that
    cannot be (here the folder is a file), pytest's writer is left to fail as it would alone,
    at the end, not the plugin at the start."""
    (project.path / "occupied").write_text("a file, not a folder")
    args = ["-p", "no:cacheprovider", "-p", "no:randomly", "--junitxml=occupied/j.xml",
            "--continue-on-collection-errors"]  # fmt: skip
    plain = project.runpytest_subprocess(*args)
    streamed = project.runpytest_subprocess(*args, "--stream")
    assert streamed.ret == plain.ret != 0
    said = [line for line in plain.errlines + plain.outlines if "Error" in line][-1]
    assert said in streamed.errlines + streamed.outlines
    assert "test_shapes.py .FEFE.EsxF.F..." in streamed.stdout.str()  # all ran, then it failed
