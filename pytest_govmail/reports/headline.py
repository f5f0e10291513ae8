"""Each domain's headline and the matrix's MUST/SHOULD marks, and citations as words.

An assessor's first question of a domain is whether it meets every MUST requirement (RFC 2119
section 1: an absolute requirement), and the second how many SHOULD findings (section 3: to be
weighed) it has. :mod:`pytest_govmail.reports.page` answers both per domain from the report's
rows, and shows each source the catalogue cites by its title (a link to its address) rather than
its key.

No HTML here: the page escapes what it shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pytest_govmail.inputs.catalogue import Catalogue, source_key
from pytest_govmail.reports.status import OUTCOMES, STATUSES, is_stale
from pytest_govmail.reports.table import OUTCOME, REQUIREMENT, STATUS, WAIVER, WIDTH, ReportTable

#: How a requirement level reads in a headline and on a failing matrix cell. RFC 2119 words:
#: a MUST failure makes a domain non-compliant, a SHOULD failure is a finding to weigh.
LEVEL_WORD = {"must": "MUST", "should": "SHOULD", "advisory": "advisory"}
#: A failing matrix cell's text by the strongest level that fails in it (letters, so that the
#: difference survives a black-and-white print and a colour-blind reader).
FAIL_LETTER = {"must": "F", "should": "S", "advisory": "A"}
#: The matrix's MUST column by :attr:`Headline.verdict`.
MUST_WORD = {"fail": "no", "inconclusive": "?", "pass": "yes"}


@dataclass(slots=True)
class Headline:
    """One domain's answer to the assessor's first question: does it meet every MUST?

    Counted in requirements, not tests: a requirement failing on two MX hosts is one finding
    for the domain. A waived failure is not a finding (a waiver accepts it) but is counted, and
    an inconclusive MUST means compliance cannot be shown either way. A stale waiver (a pass
    that a waiver still covers) does not change compliance, but pytest fails the run until the
    waiver is removed, so the headline names it.
    """

    failing: dict[str, set[str]] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)
    unknown_must: set[str] = field(default_factory=set)
    waived: set[str] = field(default_factory=set)
    stale: set[str] = field(default_factory=set)

    def add(
        self, requirement: str, level: str, status: str, waived: bool, stale: bool = False
    ) -> None:
        if stale:
            self.stale.add(requirement)
        elif status == "fail" and waived:
            self.waived.add(requirement)
        elif status == "fail":
            self.failing.setdefault(level, set()).add(requirement)
        elif status == "inconclusive":
            self.unknown.add(requirement)
            if level == "must":
                self.unknown_must.add(requirement)

    @property
    def verdict(self) -> str:
        """``fail`` (a MUST fails), ``inconclusive`` (a MUST could not be checked) or ``pass``."""
        if self.failing.get("must"):
            return "fail"
        return "inconclusive" if self.unknown_must else "pass"

    def text(self) -> str:
        must = len(self.failing.get("must", ()))
        should = len(self.failing.get("should", ()))
        lead = {
            "fail": "Not compliant: a MUST requirement fails",
            "inconclusive": "Compliance not shown: a MUST requirement could not be checked",
            "pass": "Compliant with every MUST requirement assessed",
        }[self.verdict]
        parts = [f"{lead}. {must} MUST and {should} SHOULD finding(s)"]
        if self.failing.get("advisory"):
            parts.append(f"{len(self.failing['advisory'])} advisory finding(s)")
        if self.unknown:
            parts.append(f"{len(self.unknown)} requirement(s) could not be checked")
        if self.waived:
            parts.append(f"{len(self.waived)} waived")
        if self.stale:
            parts.append(f"{len(self.stale)} stale waiver(s) to remove")
        return "; ".join(parts) + "."


def headline(table: ReportTable, rows: Iterable[int]) -> Headline:
    """The :class:`Headline` of one domain's rows."""
    found = Headline()
    data = table.rows
    for number in rows:
        base = number * WIDTH
        info = table.requirements[data[base + REQUIREMENT]]
        status, waived = STATUSES[data[base + STATUS]], bool(data[base + WAIVER])
        stale = is_stale(status, waived, OUTCOMES[data[base + OUTCOME]])
        found.add(info.id, info.level, status, waived, stale)
    return found


def fail_levels(table: ReportTable, rows: Iterable[int]) -> dict[str, str]:
    """Per area, the strongest level among failures no waiver accepts (must > should > advisory)."""
    rank = {"must": 0, "should": 1}
    strongest: dict[str, str] = {}
    data = table.rows
    fail = STATUSES.index("fail")
    for number in rows:
        base = number * WIDTH
        if data[base + STATUS] != fail or data[base + WAIVER]:
            continue
        info = table.requirements[data[base + REQUIREMENT]]
        now = strongest.get(info.area)
        if now is None or rank.get(info.level, 2) < rank.get(now, 2):
            strongest[info.area] = info.level
    return strongest


def citations(table: ReportTable, catalogue: Catalogue) -> dict[str, list[str]]:
    """Each citation the report's requirements make, as [title, URL] of its catalogue source."""
    return citations_of((ref for info in table.requirements for ref in info.sources), catalogue)


def citations_of(refs: Iterable[str], catalogue: Catalogue) -> dict[str, list[str]]:
    """Citations as [title, URL] of their catalogue source (["", ""] when it names none).

    A URL is kept only when it is https (the catalogue loader refuses any other scheme; this
    holds even if it did not). These are the only link targets the HTML reports write: they are
    the project's (or the user's own catalogue's) data, never text from the network.
    """
    cited: dict[str, list[str]] = {}
    for ref in refs:
        source = catalogue.sources.get(source_key(ref))
        if source is None:
            cited[ref] = ["", ""]
        else:
            url = source.url if source.url.startswith("https://") else ""
            cited[ref] = [source.title, url]
    return cited


def cite_parts(ref: str, cited: Mapping[str, list[str]]) -> tuple[str, str]:
    """A citation as its source's title and section ("RFC 8461, §4.2"), and its https address
    from the catalogue ("" when it has none): a report's link text and target."""
    title, url = cited.get(ref, ["", ""])
    section = ref.split(maxsplit=1)[1] if len(ref.split(maxsplit=1)) > 1 else ""
    words = f"{title}{', ' + section if section else ''}" if title else ref
    return words, url if url.startswith("https://") else ""


def cite_text(ref: str, cited: Mapping[str, list[str]]) -> str:
    """A citation as its source's title, section and address ("RFC 8461, §4.2 (https://...)")."""
    words, url = cite_parts(ref, cited)
    return f"{words} ({url})" if url else words
