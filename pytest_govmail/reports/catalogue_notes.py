"""What every report says about the catalogue itself: its version, what changed, what was
withdrawn, which levels the organisation set, and which catalogue judged a replayed file.

An assessor reading a verdict needs to know which rules produced it. A replay of an older
evidence file is judged by today's catalogue, so the report says which catalogue judged the file
when it was written and what has changed since (withdrawn requirements, changed levels). Plain
text here; the terminal prints it and the HTML reports escape it.
"""

from __future__ import annotations

from pytest_govmail.engine.run import GovmailRun
from pytest_govmail.inputs.catalogue import Catalogue, ChangelogEntry, Requirement


def judged_by(run: GovmailRun) -> str | None:
    """The catalogue version that judged a replayed file when it was written (None when live)."""
    return run.replay.judged_by if run.replay is not None else None


def catalogue_line(run: GovmailRun, catalogue: Catalogue) -> str:
    """``catalogue v2``, and for a replay, which catalogue judged the file when it was written."""
    line = f"catalogue v{catalogue.version}"
    before = judged_by(run)
    if before is None or run.replay is None:
        return line
    if not run.replay.catalogue_version:
        how = (
            "not recorded in the file, which predates catalogue version 2: v1 judged every run then"
        )
        return f"{line}; the replayed evidence was judged by catalogue v{before} ({how})"
    if before == catalogue.version:
        return f"{line}; the replayed evidence was judged by the same catalogue"
    return f"{line}; the replayed evidence was judged by catalogue v{before}"


def changes_since(catalogue: Catalogue, version: str) -> tuple[ChangelogEntry, ...]:
    """The changelog entries after ``version`` (every entry if it is not a number)."""
    if not version.isdigit():
        return catalogue.changelog
    return tuple(e for e in catalogue.changelog if int(e.version) > int(version))


def replay_changes(run: GovmailRun, catalogue: Catalogue) -> str:
    """For a replay of a file judged by an older catalogue: what this one does differently."""
    before = judged_by(run)
    if before is None or before == catalogue.version:
        return ""
    entries = changes_since(catalogue, before)
    withdrawn = [i for e in entries for i in e.withdrawn]
    added = [i for e in entries for i in e.added]
    levels = [i for e in entries for i in e.levels]
    parts = [f"judged now by catalogue v{catalogue.version}, not v{before}"]
    if withdrawn:
        parts.append(f"withdrawn since (not run): {', '.join(withdrawn)}")
    if added:
        parts.append(f"added since: {', '.join(added)}")
    if levels:
        parts.append(f"levels changed since: {', '.join(levels)}")
    return "; ".join(parts)


def withdrawal_text(requirement: Requirement) -> str:
    """``DMARC-07 (withdrawn 2026-03-31, replaced by DMARC-09): reason``."""
    withdrawal = requirement.withdrawn
    if withdrawal is None:
        return requirement.id
    replaced = (
        f", replaced by {', '.join(withdrawal.replaced_by)}" if withdrawal.replaced_by else ""
    )
    day = withdrawal.date.isoformat()
    return f"{requirement.id} (withdrawn {day}{replaced}): {withdrawal.reason}"


def withdrawn_line(catalogue: Catalogue) -> str:
    """One line naming the withdrawn requirements, which no run assesses."""
    if not catalogue.withdrawn:
        return ""
    named = ", ".join(
        f"{r.id} ({r.withdrawn.date.isoformat()}"
        + (f", replaced by {'/'.join(r.withdrawn.replaced_by)}" if r.withdrawn.replaced_by else "")
        + ")"
        for r in catalogue.withdrawn
        if r.withdrawn is not None
    )
    return (
        f"{len(catalogue.withdrawn)} requirement(s) withdrawn from catalogue "
        f"v{catalogue.version}, never run: {named}"
    )


def level_lines(catalogue: Catalogue) -> list[str]:
    """One line per level the organisation set, with the reason it gave."""
    return [
        f"level set by {change.source or 'the levels file'}: {change.describe()}"
        for change in catalogue.level_changes
    ]


def level_citation(requirement: Requirement) -> tuple[str, str]:
    """The citation that sets a requirement's catalogue level: (source and section, quote)."""
    return requirement.level_source, requirement.level_quote
