"""TLS-RPT reports: the JSON of RFC 8460 section 4, as receivers send it.

Required fields (section 4.4): ``organization-name``, ``date-range`` with ``start-datetime`` and
``end-datetime`` (RFC 3339), ``report-id``, and ``policies``, each with ``policy`` (its
``policy-type`` and ``policy-domain``) and ``summary`` (``total-successful-session-count``,
``total-failure-session-count``); ``failure-details`` is optional. Receivers differ a little:
``mx-host`` as a list or a single string, counts missing where zero. Anything else is refused
with the reason. The JSON is bounded before it is read (see :mod:`~.unpack`), and
:data:`MAX_POLICIES` and :data:`MAX_FAILURES` bound what is kept.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pytest_govmail.feedback import ReportError
from pytest_govmail.feedback.aggregate import normalise_domain
from pytest_govmail.model.feedback import TlsFailure, TlsPolicyResult, TlsReport

MAX_POLICIES = 100
MAX_FAILURES = 1_000
MAX_FIELD = 200


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key, "")
    return value.strip()[:MAX_FIELD] if isinstance(value, str) else ""


def _count(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**40:
        raise ReportError(f"{key} is not a count")
    return value


def _when(text: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ReportError(f"date-range {what} {text[:40]!r} is not an RFC 3339 time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _hosts(value: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return tuple(str(x).strip()[:MAX_FIELD] for x in items[:MAX_POLICIES] if isinstance(x, str))


def _policy(entry: object) -> TlsPolicyResult:
    if not isinstance(entry, dict):
        raise ReportError("a policies entry is not an object")
    policy = entry.get("policy")
    summary = entry.get("summary")
    if not isinstance(policy, dict) or not isinstance(summary, dict):
        raise ReportError("a policies entry lacks policy or summary")
    domain = normalise_domain(_text(policy, "policy-domain"))
    if not domain:
        raise ReportError("a policy-domain is not a domain name")
    details = entry.get("failure-details", [])
    if not isinstance(details, list):
        raise ReportError("failure-details is not a list")
    failures = []
    for detail in details[:MAX_FAILURES]:
        if not isinstance(detail, dict):
            raise ReportError("a failure-details entry is not an object")
        failures.append(
            TlsFailure(
                result_type=_text(detail, "result-type").lower() or "(no result-type)",
                receiving_mx_hostname=normalise_domain(_text(detail, "receiving-mx-hostname")),
                receiving_ip=_text(detail, "receiving-ip"),
                sending_mta_ip=_text(detail, "sending-mta-ip"),
                count=_count(detail, "failed-session-count"),
            )
        )
    return TlsPolicyResult(
        policy_type=_text(policy, "policy-type").lower() or "(no policy-type)",
        policy_domain=domain,
        mx_hosts=_hosts(policy.get("mx-host")),
        successful=_count(summary, "total-successful-session-count"),
        failed=_count(summary, "total-failure-session-count"),
        failures=tuple(failures),
    )


def parse_tlsrpt(data: bytes) -> TlsReport:
    """One TLS-RPT report from its JSON bytes; :class:`ReportError` if it is not one."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ReportError("not UTF-8 text") from None
    except RecursionError:
        raise ReportError("JSON nested too deeply") from None
    except ValueError as exc:
        raise ReportError(f"not JSON ({str(exc)[:80]})") from None
    if not isinstance(document, dict):
        raise ReportError("not a TLS-RPT report: the JSON is not an object")
    dates = document.get("date-range")
    policies = document.get("policies")
    if not isinstance(dates, dict) or not isinstance(policies, list):
        raise ReportError("not a TLS-RPT report: no date-range or policies (RFC 8460 4.4)")
    if len(policies) > MAX_POLICIES:
        raise ReportError(f"{len(policies)} policies (at most {MAX_POLICIES})")
    return TlsReport(
        org_name=_text(document, "organization-name") or "(no organization-name)",
        report_id=_text(document, "report-id"),
        begin=_when(_text(dates, "start-datetime"), "start-datetime"),
        end=_when(_text(dates, "end-datetime"), "end-datetime"),
        policies=tuple(_policy(p) for p in policies),
    )
