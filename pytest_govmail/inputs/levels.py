"""An organisation's own levels: ``--govmail-levels FILE`` tightens or relaxes requirements.

The catalogue's levels follow the guidance (each cites the sentence that sets it); an
organisation may hold itself to more (a SHOULD it treats as a MUST) or accept less (a MUST it
has decided, with a reason, to treat as a SHOULD). The file says which, and why::

    [requirement.DMARC-03]
    level = "must"
    reason = "Our board requires p=reject on every domain (decision 2026-07)"

Every change is shown in the terminal summary and the HTML report, beside the catalogue's own
level and its citation, so an assessor always sees what the organisation changed. The run
stores the file's text in the evidence (``inputs.levels``), so a replay applies the same levels
unless given another file.

The file is the user's, so it is parsed strictly (unknown keys, an ID that is not a requirement
in force, a level that is not must, should or advisory, a level equal to the catalogue's, an
empty or over-long reason: :class:`LevelsError` naming the entry), and every text it holds is
kept inert, since reports show it.
"""

from __future__ import annotations

from pytest_govmail.inputs.catalogue import Catalogue, Level, LevelChange
from pytest_govmail.inputs.toml_input import load_toml, refuse_unknown
from pytest_govmail.model.text import inert

__all__ = ["MAX_REASON", "LevelsError", "apply_levels", "parse_levels"]

#: The longest reason a change may give.
MAX_REASON = 300
_FIELDS = frozenset({"level", "reason"})


class LevelsError(ValueError):
    """A levels file that cannot be used; the message names the file and the entry."""


def parse_levels(text: str, source: str, catalogue: Catalogue) -> tuple[LevelChange, ...]:
    """The level changes a levels file makes to ``catalogue``, in the file's order."""
    where = inert(source)
    document = load_toml(text, where, LevelsError)
    unknown = sorted(set(document) - {"requirement"})
    if unknown:
        raise LevelsError(
            f"{where}: unknown key(s): {', '.join(map(inert, unknown))} "
            "(a levels file holds [requirement.ID] tables)"
        )
    tables = document.get("requirement", {})
    if not isinstance(tables, dict):
        raise LevelsError(f"{where}: 'requirement' must hold [requirement.ID] tables")
    changes: list[LevelChange] = []
    for ident, entry in tables.items():
        at = f"{where}: [requirement.{inert(ident)}]"
        record = catalogue.record(ident)
        if record is None:
            raise LevelsError(f"{at}: no requirement {inert(ident)!r} in the catalogue")
        if record.withdrawn is not None:
            raise LevelsError(
                f"{at}: {ident} was withdrawn on {record.withdrawn.date.isoformat()} and is "
                "never run"
            )
        if not isinstance(entry, dict):
            raise LevelsError(f"{at}: must be a table with level and reason")
        refuse_unknown(entry, _FIELDS, at, LevelsError)
        value = entry.get("level")
        try:
            level = Level(value) if isinstance(value, str) else None
        except ValueError:
            level = None
        if level is None:
            allowed = ", ".join(m.value for m in Level)
            raise LevelsError(f"{at}: 'level' must be one of {allowed}")
        if level is record.level:
            raise LevelsError(f"{at}: the catalogue's level is already {level.value}")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise LevelsError(f"{at}: 'reason' must say why the level changes")
        if len(reason) > MAX_REASON:
            raise LevelsError(f"{at}: 'reason' is longer than {MAX_REASON} characters")
        changes.append(
            LevelChange(
                requirement=ident,
                catalogue_level=record.level,
                level=level,
                reason=inert(" ".join(reason.split())),
                source=where,
            )
        )
    return tuple(changes)


def apply_levels(catalogue: Catalogue, given: tuple[str, str] | None) -> Catalogue:
    """``catalogue`` with the levels of ``given`` (an input's ``(source, text)``), if any."""
    if given is None:
        return catalogue
    source, text = given
    return catalogue.with_levels(parse_levels(text, source, catalogue))
