"""DMARC aggregate reports: the XML of RFC 7489 Appendix C and of RFC 9990, as receivers send it.

Receivers differ in small ways, and the parser accepts each: a default namespace or none
(RFC 9990's ``urn:ietf:params:xml:ns:dmarc-2.0``, the draft's ``http://dmarc.org/dmarc-xml/0.1``),
a ``<version>`` element or not, empty optional elements (``<sp/>``, ``<envelope_from></...>``),
results in upper or mixed case (``Pass``), and missing optional fields (no ``auth_results/spf``,
no ``selector``, no ``pct`` under RFC 9990). A record without a source address, a count or a
header From domain cannot be counted and is skipped (and counted as skipped); a file that is not
a ``<feedback>`` document, or lacks the report's domain or period, is refused whole.

The XML is read by ``defusedxml``: a DTD is refused outright (so no entity can be declared, let
alone expanded: no "billion laughs", no external entity reading a local file), and the parser
never fetches anything. Elements are counted as they are read and the document is refused past
:data:`MAX_ELEMENTS`; each record is dropped from the tree once read, so a report's memory is
one record's, not the report's.
"""

from __future__ import annotations

import io
import ipaddress
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import defusedxml
import defusedxml.ElementTree as SafeET

from pytest_govmail.feedback import ReportError
from pytest_govmail.model.feedback import AggregateReport, AuthResult, SenderRow

#: Elements read from one report (a record has about 20).
MAX_ELEMENTS = 2_000_000
#: Characters kept of a free-text field (organisation name, report ID).
MAX_FIELD = 200
#: Auth results kept per record (a message carries a few signatures).
MAX_AUTH_RESULTS = 10
RFC9990_NAMESPACE = "urn:ietf:params:xml:ns:dmarc-2.0"
_DOMAIN = re.compile(
    r"(?=.{1,253}\Z)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_-]{1,63}\Z"
)


_LOCAL_NAMES: dict[object, str] = {}


def _local(tag: object) -> str:
    """An element's name without its namespace, lower case (remembered: a report repeats a
    few dozen names tens of thousands of times; hostile names beyond 1,000 are not kept)."""
    known = _LOCAL_NAMES.get(tag)
    if known is None:
        known = (tag if isinstance(tag, str) else "").rpartition("}")[2].lower()
        if len(_LOCAL_NAMES) < 1000:
            _LOCAL_NAMES[tag] = known
    return known


def _child(element: ET.Element | None, name: str) -> ET.Element | None:
    if element is None:
        return None
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _children(element: ET.Element | None, name: str) -> list[ET.Element]:
    if element is None:
        return []
    return [child for child in element if _local(child.tag) == name]


def _text(element: ET.Element | None, *path: str) -> str:
    for name in path:
        element = _child(element, name)
    if element is None or element.text is None:
        return ""
    return element.text.strip()[:MAX_FIELD]


def _word(element: ET.Element | None, *path: str) -> str:
    """A keyword (a result, a disposition): lower case, as RFC 7489 spells them."""
    return _text(element, *path).lower()


def normalise_domain(text: str) -> str:
    """A domain as written in a report, lower case without a trailing dot; "" if not a name."""
    name = text.strip().rstrip(".").lower()
    return name if _DOMAIN.match(name) else ""


def _timestamp(text: str, what: str) -> datetime:
    try:
        value = int(text.split(".")[0])
    except ValueError:
        raise ReportError(f"date_range {what} {text[:40]!r} is not a Unix time") from None
    if not 0 <= value < 2**33:
        raise ReportError(f"date_range {what} {value} is out of range")
    return datetime.fromtimestamp(value, UTC)


def _count(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) <= 10 else None


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def _auth(element: ET.Element, kind: str) -> tuple[AuthResult, ...]:
    found = []
    for entry in _children(_child(element, "auth_results"), kind)[:MAX_AUTH_RESULTS]:
        found.append(
            AuthResult(
                domain=normalise_domain(_text(entry, "domain")),
                result=_word(entry, "result"),
                selector=_word(entry, "selector") if kind == "dkim" else "",
                scope=_word(entry, "scope") if kind == "spf" else "",
            )
        )
    return tuple(found)


def _row(record: ET.Element) -> SenderRow | None:
    """One record, or None when it lacks what it takes to count it."""
    row = _child(record, "row")
    source = _address(_text(row, "source_ip"))
    count = _count(_text(row, "count"))
    header_from = normalise_domain(_text(record, "identifiers", "header_from"))
    if source is None or count is None or not header_from:
        return None
    evaluated = _child(row, "policy_evaluated")
    return SenderRow(
        source_ip=source,
        header_from=header_from,
        disposition=_word(evaluated, "disposition") or "none",
        dkim_aligned=_word(evaluated, "dkim") or "fail",
        spf_aligned=_word(evaluated, "spf") or "fail",
        dkim=_auth(record, "dkim"),
        spf=_auth(record, "spf"),
        count=count,
    )


def parse_aggregate(data: bytes) -> AggregateReport:
    """One aggregate report from its XML bytes; :class:`ReportError` if it is not one."""
    rows: list[SenderRow] = []
    skipped = 0
    elements = 0
    root: ET.Element | None = None
    metadata: ET.Element | None = None
    published: ET.Element | None = None
    try:
        for event, element in SafeET.iterparse(
            io.BytesIO(data), events=("start", "end"), forbid_dtd=True
        ):
            if event == "start":
                elements += 1
                if elements > MAX_ELEMENTS:
                    raise ReportError(f"more than {MAX_ELEMENTS:,} XML elements")
                if root is None:
                    root = element
                    if _local(element.tag) != "feedback":
                        raise ReportError(
                            "not a DMARC aggregate report: the root element is "
                            f"<{_local(element.tag)[:40]}>, not <feedback>"
                        )
                continue
            name = _local(element.tag)
            if element is root:
                break
            if name == "record":
                row = _row(element)
                if row is None:
                    skipped += 1
                else:
                    rows.append(row)
                element.clear()
                if root is not None:
                    root.remove(element)  # a record is a child of <feedback>
            elif name == "report_metadata":
                metadata = element
            elif name == "policy_published":
                published = element
    except ReportError:
        raise
    except defusedxml.DTDForbidden:
        raise ReportError("the XML declares a DTD, which reports never need: refused") from None
    except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
        raise ReportError("the XML declares entities or external references: refused") from None
    except ET.ParseError as exc:
        raise ReportError(f"not well-formed XML ({exc})") from None
    except ValueError as exc:  # a record removed twice, a surrogate in a name...
        raise ReportError(f"unreadable XML ({type(exc).__name__})") from None
    if root is None:
        raise ReportError("empty document")
    domain = normalise_domain(_text(published, "domain"))
    if metadata is None or published is None or not domain:
        raise ReportError("no report_metadata, or no policy_published domain")
    date_range = _child(metadata, "date_range")
    begin = _timestamp(_text(date_range, "begin"), "begin")
    end = _timestamp(_text(date_range, "end"), "end")
    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    return AggregateReport(
        org_name=_text(metadata, "org_name") or "(no org_name)",
        report_id=_text(metadata, "report_id"),
        begin=begin,
        end=end,
        domain=domain,
        policy=_word(published, "p"),
        subdomain_policy=_word(published, "sp"),
        pct=_text(published, "pct"),
        rows=tuple(rows),
        skipped_rows=skipped,
        schema="rfc9990" if namespace == RFC9990_NAMESPACE else "rfc7489",
    )
