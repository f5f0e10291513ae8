"""Read our HTML report's data block back into one dict per test (for the project's tests)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DATA = re.compile(r"<script type='application/json' id='govmail-data'>(.*?)</script>", re.S)


def report_data(html: str) -> dict[str, Any]:
    """The JSON block, parsed as the page's script parses it."""
    found = DATA.search(html)
    assert found is not None, "the report has no data block"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def report_tests(source: Path | str) -> list[dict[str, Any]]:
    """Every test in the report, its indices resolved to strings."""
    html = source.read_text("utf-8") if isinstance(source, Path) else source
    data = report_data(html)
    strings, lists = data["strings"], data["lists"]
    fields = data["fields"]
    width = len(fields)
    tests = []
    for domain, flat in zip(data["domains"], data["tests"], strict=True):
        for offset in range(0, len(flat), width):
            row = dict(zip(fields, flat[offset : offset + width], strict=True))
            req_id, title, level, area, sources = data["requirements"][row["requirement"]]
            findings = [strings[i] for i in lists[row["findings"]]]
            details = [strings[i] for i in lists[row["details"]]]
            tests.append(
                {
                    "domain": domain,
                    "requirement": req_id,
                    "title": title,
                    "level": level,
                    "area": area,
                    "host": strings[row["host"]],
                    "status": data["statuses"][row["status"]],
                    "outcome": data["outcomes"][row["outcome"]],
                    "summary": strings[row["summary"]],
                    "findings": [tuple(findings[k : k + 4]) for k in range(0, len(findings), 4)],
                    "evidence": [strings[i] for i in lists[row["evidence"]]],
                    "details": [tuple(details[k : k + 2]) for k in range(0, len(details), 2)],
                    "sources": [strings[i] for i in lists[sources]],
                    "waiver": strings[row["waiver"]],
                }
            )
    return tests
