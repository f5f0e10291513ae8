"""One JUnit XML file from several: the batches of a ``govmail-sweep`` as one test suite.

A 10,000-domain sweep's JUnit is some 590,000 test cases, so the files are streamed: each
``testcase`` element is parsed, written out and dropped, and only the suites' counts are summed.
CI systems (GitHub, GitLab, Jenkins) read one ``testsuite`` as one run, as if pytest had written
it in one process.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

#: Counts a ``testsuite`` carries that add up across batches.
COUNTS = ("tests", "errors", "failures", "skipped")


def _suite_attributes(path: Path) -> dict[str, str]:
    for _event, element in ET.iterparse(path, events=("start",)):
        if element.tag == "testsuite":
            return dict(element.attrib)
    raise ValueError(f"{path}: no <testsuite> in this JUnit file")


def merge(parts: Sequence[Path], out: Path, seconds: float | None = None) -> dict[str, int]:
    """Write ``parts``' test cases, in order, as one ``testsuite`` to ``out``; return the counts.

    The suite's time is ``seconds`` when given (the sweep's wall time), else the parts' sum.
    """
    if not parts:
        raise ValueError("no JUnit files to merge")
    suites = [_suite_attributes(p) for p in parts]
    counts = {k: sum(int(s.get(k, "0") or 0) for s in suites) for k in COUNTS}
    first = suites[0]
    if seconds is None:
        seconds = sum(float(s.get("time", 0)) for s in suites)
    attributes = {
        "name": first.get("name", "pytest"),
        **{k: str(v) for k, v in counts.items()},
        "time": f"{seconds:.3f}",
        "timestamp": first.get("timestamp", ""),
        "hostname": first.get("hostname", ""),
    }
    opening = ET.tostring(ET.Element("testsuite", attributes), encoding="unicode")
    opening = opening.replace(" />", ">")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as sink:
        sink.write('<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">')
        sink.write(opening)
        for number, path in enumerate(parts):
            stack: list[ET.Element] = []
            for event, element in ET.iterparse(path, events=("start", "end")):
                if event == "start":
                    stack.append(element)
                    continue
                stack.pop()
                # testsuites > testsuite > testcase; a suite's own <properties> once, from the
                # first file (pytest writes them in every process alike).
                if len(stack) == 2 and (
                    element.tag == "testcase" or (element.tag == "properties" and number == 0)
                ):
                    element.tail = None
                    sink.write(ET.tostring(element, encoding="unicode"))
                if len(stack) == 2:
                    stack[-1].remove(element)  # the only child by now: nothing accumulates
        sink.write("</testsuite></testsuites>\n")
    tmp.replace(out)
    return counts
