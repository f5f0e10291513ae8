"""One JUnit XML file from several: the batches of a ``govmail-sweep`` as one test suite.

A 10,000-domain sweep's JUnit is some 590,000 test cases (380 MiB), so each batch's test cases
are copied as the text pytest wrote, one file at a time, and only the suites' counts are summed.
CI systems (GitHub, GitLab, Jenkins) read one ``testsuite`` as one run, as if pytest had written
it in one process.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

#: Counts a ``testsuite`` carries that add up across batches.
COUNTS = ("tests", "errors", "failures", "skipped")


_OPENING = re.compile(r"<testsuite\b[^>]*?(/?)>")
_PROPERTIES = re.compile(r"\s*<properties>.*?</properties>", re.S)


def _attributes(opening: re.Match[str]) -> dict[str, str]:
    tag = opening.group(0) if opening.group(1) == "/" else opening.group(0)[:-1] + "/>"
    return dict(ET.fromstring(tag).attrib)


def _opening(text: str, path: Path) -> re.Match[str]:
    found = _OPENING.search(text)
    if found is None:
        raise ValueError(f"{path}: no <testsuite> in this JUnit file")
    return found


def _suite_attributes(path: Path) -> dict[str, str]:
    """The ``testsuite`` attributes, read from the start of the file."""
    with path.open("r", encoding="utf-8") as source:
        return _attributes(_opening(source.read(64 * 1024), path))


def _inner(path: Path, keep_properties: bool) -> str:
    """The ``testsuite``'s inner XML as pytest wrote it (test cases, and its ``properties``).

    Copied as text: parsing and re-serialising the 590,000 test cases of a 10,000-domain sweep
    took 27 s.
    """
    text = path.read_text("utf-8")
    opening = _opening(text, path)
    if opening.group(1) == "/":
        return ""
    end = text.rfind("</testsuite>")
    if end < opening.end():
        raise ValueError(f"{path}: <testsuite> is not closed (a truncated JUnit file?)")
    inner = text[opening.end() : end]
    if not keep_properties and inner.lstrip().startswith("<properties>"):
        inner = _PROPERTIES.sub("", inner, count=1)
    return inner


def merge(parts: Sequence[Path], out: Path, seconds: float | None = None) -> dict[str, int]:
    """Write ``parts``' test cases, in order, as one ``testsuite`` to ``out``; return the counts.

    The suite's time is ``seconds`` when given (the sweep's wall time), else the parts' sum.
    Each part is read whole, one at a time (a 500-domain batch's file is about 40 MiB); the
    suite's own properties are kept once, from the first (pytest writes the same in each).
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
            sink.write(_inner(path, keep_properties=number == 0))
        sink.write("</testsuite></testsuites>\n")
    tmp.replace(out)
    return counts
