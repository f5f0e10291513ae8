"""What a run was given besides its targets, and what became of it.

The inputs are the user's own statements, kept as text with where they came from (a waiver file,
an attestation file, the TLS profile), so that the evidence file carries them and a replay judges
with the same inputs unless the user gives others. The ledger also records which waivers matched
a test, for the summary and the report's waiver list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping

from pytest_govmail.inputs.attestations import Attestation, parse_attestations
from pytest_govmail.inputs.retired_reporting import (
    RetiredReporting,
    packaged_retired,
    retired_from_input,
)
from pytest_govmail.inputs.tls_profile import TlsProfile, load_profile, profile_from_input
from pytest_govmail.inputs.waivers import Horizon, Waiver, WaiverMatch, parse_waivers


class RunLedger:
    """A run's inputs (kind -> (source, text)), parsed, and the waivers that matched tests."""

    def __init__(self, inputs: Mapping[str, tuple[str, str]] = ()) -> None:  # type: ignore[assignment]
        self.inputs: dict[str, tuple[str, str]] = dict(inputs)
        self.waivers: tuple[Waiver, ...] = ()
        self.attestations: tuple[Attestation, ...] = ()
        #: The retired report addresses DMARC-09 and TLSRPT-03 judge by: the packaged list,
        #: extended by the user's file (``inputs["retired_addresses"]``).
        self.retired: RetiredReporting = packaged_retired()
        self.waivers_applied: set[Waiver] = set()
        self.waivers_expired: set[Waiver] = set()
        #: How many tests each applied waiver matched, for the report's waiver list.
        self.waiver_uses: Counter[Waiver] = Counter()
        #: The last test's match as waiver indices (applied, expired; -1 for none), which a
        #: pytest-xdist worker sends its controller with the test's setup report.
        self.last_waiver_note: tuple[int, int] | None = None

    @property
    def tls_profile(self) -> TlsProfile:
        """The TLS profile held in ``inputs`` (the user's, or the replayed run's), else the
        packaged one (evidence written before profiles were stored). Raises ``ProfileError``."""
        stored = self.inputs.get("tls_profile")
        return profile_from_input(*stored) if stored is not None else load_profile()

    def parse_inputs(
        self, requirement_ids: Collection[str], waiver_horizon: Horizon | None = None
    ) -> None:
        """Read the waivers, attestations and TLS profile held in ``inputs`` (the user's files,
        or a replayed run's), the waivers held to ``waiver_horizon`` when one is given, and the
        user's retired report addresses. Raises ``WaiverError``, ``AttestationError``,
        ``ProfileError`` or ``RetiredError`` naming what is wrong."""
        self.tls_profile  # noqa: B018 - parsed here, so that a bad profile stops the run early
        if "waivers" in self.inputs:
            source, text = self.inputs["waivers"]
            self.waivers = parse_waivers(text, source, requirement_ids, waiver_horizon)
        if "attestations" in self.inputs:
            source, text = self.inputs["attestations"]
            self.attestations = parse_attestations(text, source)
        if "retired_addresses" in self.inputs:
            self.retired = retired_from_input(*self.inputs["retired_addresses"])

    def note_waiver(self, match: WaiverMatch) -> None:
        """Remember which waivers matched a test, for the report's waiver summary."""
        if match.applied is not None:
            self.waivers_applied.add(match.applied)
            self.waiver_uses[match.applied] += 1
        if match.expired is not None:
            self.waivers_expired.add(match.expired)
        self.last_waiver_note = (
            (self._index(match.applied), self._index(match.expired))
            if match.applied is not None or match.expired is not None
            else None
        )

    def _index(self, waiver: Waiver | None) -> int:
        return -1 if waiver is None else self.waivers.index(waiver)

    def note_waiver_indices(self, note: tuple[int, int] | list[int]) -> None:
        """Note a match a pytest-xdist worker made (see ``last_waiver_note``): the controller
        judges no test, so without this it would call every waiver unused."""
        applied, expired = note
        self.note_waiver(
            WaiverMatch(
                applied=self.waivers[applied] if 0 <= applied < len(self.waivers) else None,
                expired=self.waivers[expired] if 0 <= expired < len(self.waivers) else None,
            )
        )

    def unused_waivers(self) -> list[Waiver]:
        """Waivers that matched no test of this run (a typo, or a domain fixed and forgotten)."""
        used = self.waivers_applied | self.waivers_expired
        return [w for w in self.waivers if w not in used]
