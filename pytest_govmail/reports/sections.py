"""Parts both HTML reports show above their results: provenance, gaps, waivers, attestations.

Our own report (:mod:`pytest_govmail.reports.page`) and the pytest-html additions
(:mod:`pytest_govmail.reports.pytest_html`) say the same things about a run, so they share these.
Each function
returns markup in which every value has passed through :func:`esc`: waiver reasons, attestation
evidence and catalogue texts are the user's words, and a domain list can hold anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pytest_govmail.engine.run import GovmailRun
from pytest_govmail.inputs.catalogue import Catalogue
from pytest_govmail.inputs.catalogue_markdown import sole_source_mark
from pytest_govmail.reports.catalogue_notes import (
    catalogue_line,
    replay_changes,
    withdrawal_text,
)
from pytest_govmail.reports.page_output import esc
from pytest_govmail.reports.terminal import applied_waivers, vantage_lines, waiver_lines


def provenance(run: GovmailRun, catalogue: Catalogue) -> str:
    """Where the evidence came from: live collection (when, which resolver) or a replay."""
    if run.replay is not None:
        source = f"replay of evidence collected {run.replay.started_at or 'at an unknown time'}"
    else:
        source = f"collected {run.started_at} via {run.resolver_label}"
    vantage = run.vantage
    seen = "".join(f"<p>Vantage point: {esc(line)}.</p>" for line in vantage_lines(run))
    cause = (vantage.blind or vantage.blocked) if vantage is not None else None
    if cause:
        # One banner for the one cause, rather than one timeout or FAIL on every test.
        seen += (
            f"<p class='govmail-banner'><strong>{esc(cause)}</strong>: "
            "the tests it touches are inconclusive.</p>"
        )
    missing = run.nonexistent
    banner = (
        f'<p class="govmail-nxdomain" role="alert"><strong>{len(missing)} domain(s) do not '
        f"exist</strong> (NXDOMAIN): {esc(', '.join(missing))}. Every test of them is "
        "inconclusive: check the spelling, the registration and the resolver.</p>"
        if missing
        else ""
    )
    changed = replay_changes(run, catalogue)
    return banner + (
        f"<p>{len(run.targets)} domain(s) assessed against "
        f"{esc(catalogue_line(run, catalogue))}; {esc(source)}.</p>"
        + (f"<p class='govmail-replay'>{esc(changed)}.</p>" if changed else "")
        + seen
    )


def catalogue_parts(catalogue: Catalogue, table_class: str = "govmail-matrix") -> str:
    """The catalogue's changelog, its withdrawn requirements and the levels the organisation set.

    Withdrawn requirements are listed because an assessor comparing with an older report must
    see why a requirement is no longer there; the organisation's levels because they change
    which failures count as MUST.
    """
    parts = []
    entries = "".join(
        f"<li><strong>v{esc(e.version)}</strong> ({esc(e.date.isoformat())}): "
        + "<ul>"
        + "".join(f"<li>{esc(c)}</li>" for c in e.changes)
        + "</ul></li>"
        for e in reversed(catalogue.changelog)
    )
    if entries:
        parts.append(
            f"<details><summary>Catalogue v{esc(catalogue.version)}: what changed</summary>"
            f"<ul>{entries}</ul></details>"
        )
    if catalogue.withdrawn:
        items = "".join(f"<li>{esc(withdrawal_text(r))}</li>" for r in catalogue.withdrawn)
        parts.append(
            f"<details><summary>{len(catalogue.withdrawn)} requirement(s) withdrawn, never run"
            f"</summary><ul>{items}</ul></details>"
        )
    if catalogue.level_changes:
        rows = "".join(
            f"<tr><td>{esc(c.requirement)}</td><td>{esc(c.catalogue_level.value)}</td>"
            f"<td>{esc(c.level.value)}</td><td>{esc(c.reason)}</td><td>{esc(c.source)}</td></tr>"
            for c in catalogue.level_changes
        )
        parts.append(
            f"<h3>Levels set by your organisation ({len(catalogue.level_changes)})</h3>"
            f"<table class='{esc(table_class)}'><tr><th>requirement</th><th>catalogue level</th>"
            "<th>level applied</th><th>reason</th><th>file</th></tr>" + rows + "</table>"
        )
    return "".join(parts)


def not_assessed(catalogue: Catalogue, collected: Iterable[str]) -> str:
    """The catalogue requirements no test assessed: an assessor must not read silence as a pass."""
    done = set(collected)
    missing = [r for r in catalogue if r.id not in done]
    if not missing:
        return ""
    items = "".join(f"<li>{esc(r.id)} ({esc(r.level.value)}): {esc(r.title)}</li>" for r in missing)
    return (
        f"<details><summary>{len(missing)} catalogue requirement(s) not assessed in this run "
        f"(not implemented yet, or deselected)</summary><ul>{items}</ul></details>"
    )


def inputs(run: GovmailRun, table_class: str = "govmail-matrix", folded: bool = False) -> str:
    """Waivers and attestations: the user's own statements, listed for the assessor.

    ``folded`` puts the attestation table (one row per domain and control: long in a sweep)
    behind a ``<details>`` so that it does not push the matrix down.
    """
    parts = []
    waivers = waiver_table(run, table_class)
    lines = [line for line in waiver_lines(run) if not line.startswith("waiver applied to ")]
    if waivers or lines:
        items = "".join(f"<li>{esc(line)}</li>" for line in lines)
        parts.append(f"<h3>Waivers</h3>{waivers}" + (f"<ul>{items}</ul>" if items else ""))
    if run.attestations:
        rows = "".join(
            f"<tr><td>{esc(a.domain)}</td><td>{esc(a.control)}</td><td>{esc(a.attested_by)}</td>"
            f"<td>{esc(a.attested_on.isoformat())}</td><td>{esc(a.expires or '')}</td>"
            f"<td>{esc(a.evidence)}</td></tr>"
            for a in run.attestations
        )
        heading = "<h3>Attested controls</h3>"
        if folded:
            heading = f"<details><summary>{len(run.attestations)} attested control(s)</summary>"
        parts.append(
            f"{heading}<table class='{esc(table_class)}'><tr><th>domain</th>"
            "<th>control</th><th>attested by</th><th>date</th><th>expires</th>"
            f"<th>evidence</th></tr>{rows}</table>" + ("</details>" if folded else "")
        )
    return "".join(parts)


def waiver_table(run: GovmailRun, table_class: str = "govmail-matrix") -> str:
    """The waivers that applied, one row each: requirement, domain pattern (a glob flagged as
    covering more than one domain), host pattern, tests matched, expiry, reason and entry, so
    that an assessor sees how far each exception reaches, not just how many there are."""
    rows = []
    for waiver in applied_waivers(run):
        uses = run.waiver_uses.get(waiver, 0)
        glob = " <strong>(glob: covers more than one domain)</strong>" if waiver.broad else ""
        rows.append(
            f"<tr><td>{esc(waiver.requirement)}</td><td>{esc(waiver.domain)}{glob}</td>"
            f"<td>{esc(waiver.host or '')}</td><td>{uses if uses else 'not recorded'}</td>"
            f"<td>{esc(waiver.expires.isoformat())}</td><td>{esc(waiver.reason)}</td>"
            f"<td>{esc(waiver.source)}</td></tr>"
        )
    if not rows:
        return ""
    return (
        f"<table class='{esc(table_class)}'><tr><th>requirement</th><th>domain</th>"
        "<th>MX host</th><th>tests</th><th>expires</th><th>reason</th><th>entry</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def level_cell(requirement_id: str, catalogue: Catalogue, cite: Callable[[str], str]) -> str:
    """Who set a requirement's level: the sentence of the guidance (``cite`` renders its source
    as a link), quoted, led by "only source: ..." when Mail Check's code or a supplier's guide
    alone sets it; and the organisation's own level and reason when its levels file changed
    it."""
    record = catalogue.record(requirement_id)
    if record is None:
        return ""
    mark = sole_source_mark(record)
    cell = (
        (f"<strong>{esc(mark)}</strong>: " if mark else "")
        + f"{cite(record.level_source)}: <q>{esc(record.level_quote)}</q>"
        if record.level_source
        else ""
    )
    for change in catalogue.level_changes:
        if change.requirement == requirement_id:
            cell = (
                f"<strong>{esc(change.level.value)} by your organisation</strong>: "
                f"{esc(change.reason)} (catalogue: {esc(change.catalogue_level.value)}, "
                f"{cell})"
            )
    return cell
