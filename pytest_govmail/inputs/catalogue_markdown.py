"""The catalogue as Markdown: the README's generated tables, and the command that writes them.

``python -m pytest_govmail.inputs.catalogue_markdown [ID ...] [--readme README.md]`` prints the
catalogue as one table per area, marking the given IDs (by default, the records that name a
judge) as tested, with the sentence that sets each level; then the withdrawn requirements and
the catalogue's changelog. ``--readme`` rewrites the README's generated section in place.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection, Sequence
from pathlib import Path

from pytest_govmail.inputs.catalogue import (
    ALL,
    AREA_TITLES,
    Catalogue,
    Requirement,
    load_catalogue,
    source_key,
)

_APPLIES_ORDER = ("receiving", "sending", "parked")
TESTED = "tested"
NOT_IMPLEMENTED = "not implemented yet"

#: The level sources that are neither government guidance nor an RFC. A level that cites one of
#: them rests on it alone (no GOV.UK, NCSC or RFC sentence sets it), and every table that shows
#: the level says so, so that an assessor weighs it accordingly.
SOLE_SOURCE_MARKS = {
    "MC": "only source: NCSC Mail Check's code",
    "SEED": "only source: a supplier's guide",
}


def _cell(text: str) -> str:
    """Text made safe for one Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _applies_text(requirement: Requirement) -> str:
    if requirement.applies_to_all:
        return ALL
    return ", ".join(v for v in _APPLIES_ORDER if v in requirement.applies_to)


def markdown_table(catalogue: Catalogue, implemented: Collection[str]) -> str:
    """The catalogue as a Markdown section body: a ``###`` heading and a table per area.

    ``implemented`` holds the IDs that have a test; the Status column says "tested" for them and
    "not implemented yet" for the others. An ID that is not in the catalogue is a ValueError.
    """
    unknown = sorted(set(implemented) - set(catalogue.ids()))
    if unknown:
        raise ValueError(f"not in the catalogue: {', '.join(unknown)}")
    lines: list[str] = [
        f"Catalogue version {catalogue.version}. Each level cites the sentence that sets it "
        "(Level set by): MC is NCSC Mail Check's published rules, SEED the supplier guide the "
        "catalogue began from; a level that rests on one of them alone is marked "
        "**only source**.",
    ]
    for area in catalogue.areas():
        if not catalogue.in_area(area):
            continue  # every requirement of the area withdrawn: listed below
        lines.append("")
        lines.append(f"### {AREA_TITLES.get(area, area)}")
        lines.append("")
        lines.append(
            "| ID | Level | Applies to | Scope | Passes when | Sources | Level set by | Status |"
        )
        lines.append("|---|---|---|---|---|---|---|---|")
        for r in catalogue.in_area(area):
            status = TESTED if r.id in implemented else NOT_IMPLEMENTED
            cells = (
                r.id,
                r.level.value,
                _applies_text(r),
                r.scope.value,
                r.criterion,
                ", ".join(r.sources),
                level_citation(r),
                status,
            )
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if catalogue.withdrawn:
        lines += ["", "### Withdrawn requirements", ""]
        lines.append("Never run; their IDs are never given to another requirement.")
        lines += ["", "| ID | Title | Withdrawn | Replaced by | Reason |", "|---|---|---|---|---|"]
        for r in catalogue.withdrawn:
            assert r.withdrawn is not None
            gone = (
                r.id,
                r.title,
                r.withdrawn.date.isoformat(),
                ", ".join(r.withdrawn.replaced_by) or "-",
                r.withdrawn.reason,
            )
            lines.append("| " + " | ".join(_cell(c) for c in gone) + " |")
    lines += ["", "### Catalogue changelog", ""]
    for entry in reversed(catalogue.changelog):
        lines.append(f"- **Version {entry.version}** ({entry.date.isoformat()})")
        lines.extend(f"  - {' '.join(change.split())}" for change in entry.changes)
    return "\n".join(lines) + "\n"


def sole_source_mark(requirement: Requirement) -> str:
    """``only source: NCSC Mail Check's code`` (or a supplier's guide) when the level rests on
    that alone, else ``""``."""
    return SOLE_SOURCE_MARKS.get(source_key(requirement.level_source), "")


def level_citation(requirement: Requirement) -> str:
    """The sentence that sets a level, as a table cell: ``G1 §section: "quote"``, led by
    ``**only source: ...**`` when Mail Check's code or a supplier's guide alone sets it."""
    cell = f'{requirement.level_source}: "{requirement.level_quote}"'
    mark = sole_source_mark(requirement)
    return f"**{mark}.** {cell}" if mark else cell


README_START = "<!-- catalogue:start (generated by: python -m pytest_govmail.inputs.catalogue_markdown --readme README.md) -->"  # noqa: E501
README_END = "<!-- catalogue:end -->"


def render_readme(text: str, table: str) -> str:
    """``text`` with the generated catalogue between the README markers replaced by ``table``."""
    start = text.index(README_START) + len(README_START)
    end = text.index(README_END)
    return text[:start] + "\n\n" + table + "\n" + text[end:]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the catalogue as Markdown, marking the IDs given (default: those with a judge) as
    tested."""
    parser = argparse.ArgumentParser(
        prog="python -m pytest_govmail.inputs.catalogue_markdown",
        description="Print the requirement catalogue as Markdown tables, one per area.",
    )
    parser.add_argument(
        "implemented",
        nargs="*",
        metavar="ID",
        help="requirement IDs that have tests (space- or comma-separated); "
        "by default, the records that name a judge",
    )
    parser.add_argument(
        "--readme",
        type=Path,
        default=None,
        metavar="README",
        help="rewrite the generated section of this README in place instead of printing",
    )
    parser.add_argument(
        "--catalogue",
        type=Path,
        default=None,
        metavar="PATH",
        help="a catalogue file to read instead of the packaged one",
    )
    args = parser.parse_args(argv)
    ids = {part.strip() for arg in args.implemented for part in arg.split(",") if part.strip()}
    try:
        catalogue = load_catalogue(args.catalogue)
        text = markdown_table(catalogue, ids or {r.id for r in catalogue if r.implemented})
    except ValueError as exc:  # CatalogueError included
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.readme is not None:
        args.readme.write_text(render_readme(args.readme.read_text("utf-8"), text), "utf-8")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
