"""A replay of the previous release's evidence gives that release's verdicts, test for test.

``data/release-0.1.0-demo-evidence.json`` is the evidence file pytest-govmail 0.1.0 wrote for
the demo lab (``--govmail-demo --govmail-evidence-out``), and
``data/release-0.1.0-demo-outcomes.json`` what 0.1.0 reported when it replayed that file: per
test, keyed by requirement, domain and host, the JUnit outcome, its message and the test's JUnit
properties. Code may move and be rewritten; the verdicts an assessor reads may not change
without this file changing in the same commit, with the reason in its message. Requirements
added to the catalogue since 0.1.0 add tests of their own, which this leaves to their judges'
tests and the demo's expectations; requirements withdrawn since (catalogue version 2: DMARC-07,
TLSRPT-02, PTR-01) no longer run, and their 0.1.0 outcomes stay in the file as history.

0.1.0 was judged by catalogue version 1, which its evidence file does not record; the replay
must say so, and what catalogue version 2 changed.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_govmail.inputs.catalogue import load_catalogue

DATA = Path(__file__).parent / "data"
EVIDENCE = DATA / "release-0.1.0-demo-evidence.json"
OUTCOMES = DATA / "release-0.1.0-demo-outcomes.json"


def junit_outcomes(path: Path) -> dict[str, dict[str, object]]:
    """Each govmail testcase of a JUnit file as {outcome, message, properties}."""
    found: dict[str, dict[str, object]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        properties = [[p.get("name"), p.get("value")] for p in case.iter("property")]
        named = dict(properties)
        key = " ".join(
            str(v)
            for v in (
                named["govmail.requirement"],
                named["govmail.domain"],
                named.get("govmail.host"),
            )
            if v
        )
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                xfail = child.get("type") == "pytest.xfail"
                outcome = child.tag + ("-xfail" if xfail else "")
                message = child.get("message", "")
        assert key not in found, f"two testcases for {key}"
        found[key] = {"outcome": outcome, "message": message, "properties": properties}
    return found


#: pytest 9.2 and later shorten a ``message`` attribute (the whole text stays in the element's
#: text): a multi-line one to its first lines and "[+N more lines; ...]", a long line to its
#: start, "..." and "[truncated; ...]".
SHORTENED = re.compile(
    r"(?s)(.*?)(\.\.\.)?\n\[(?:\+\d+ more lines?|truncated); full report in element text\]"
)


def same_message(expected: str, seen: str) -> bool:
    """The message 0.1.0's run wrote, or the start of it, shortened by a newer pytest."""
    shortened = SHORTENED.fullmatch(seen)
    if shortened is None:
        return seen == expected
    return len(shortened.group(1)) > 0 and expected.startswith(shortened.group(1))


def test_replay_of_the_previous_release_evidence_is_unchanged(pytester: pytest.Pytester) -> None:
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest(
        f"--govmail-replay={EVIDENCE}", f"--junitxml={junit}", "--govmail-no-reports", "-q"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "govmail: catalogue v2; the replayed evidence was judged by catalogue v1 (not "
            "recorded in "
            "the file, which predates catalogue version 2*",
            "govmail: judged now by catalogue v2, not v1; withdrawn since (not run): DMARC-07, "
            "TLSRPT-02, PTR-01*levels changed since: DMARC-03, TLS-04, TLS-08, PARK-03, PARK-04",
        ]
    )
    withdrawn = {r.id for r in load_catalogue().withdrawn}
    expected = {
        key: want
        for key, want in json.loads(OUTCOMES.read_text("utf-8")).items()
        if key.split()[0] not in withdrawn
    }
    # A pin is the whole message, as pytest below 9.2 writes it: one shortened by a newer
    # pytest would fail the run on the older one (CI runs both ends of the range).
    shortened = [key for key, want in expected.items() if SHORTENED.fullmatch(want["message"])]
    assert not shortened, f"pinned in pytest 9.2's shortened form: {shortened}"
    seen = junit_outcomes(junit)
    gone = {key.split()[0] for key in seen} & withdrawn
    assert not gone, f"withdrawn requirements ran: {sorted(gone)}"
    missing = sorted(set(expected) - set(seen))
    assert not missing, f"tests of 0.1.0 no longer run: {missing[:5]}"
    known = {key.split()[0] for key in expected}
    extra = sorted(k for k in set(seen) - set(expected) if k.split()[0] in known)
    assert not extra, f"tests 0.1.0 did not have, of its own requirements: {extra[:5]}"
    changed = {
        key: (want, got)
        for key, want in expected.items()
        if (got := seen[key])["outcome"] != want["outcome"]
        or got["properties"] != want["properties"]
        or not same_message(str(want["message"]), str(got["message"]))
    }
    assert not changed, f"{len(changed)} verdicts changed, e.g. {next(iter(changed.items()))}"
