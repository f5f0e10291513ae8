"""The demo lab's DMARC aggregate and TLS-RPT reports, made at lab start with current dates.

The lab plays the receivers that would report on its departments' mail, so ``--govmail-demo``
shows REPORTS-01..04 at work with no real mailbox: its own sending service (the shared
provider's 127.0.2.10, which SPF authorises) and the strangers that send as its departments. The
reports are dated from the moment the lab starts, so the window never ages them out; one is
dated 60 days back, to show that old reports are ignored and said to be.

Each file takes the shape a real receiver sends, as DMARC tools' public sample reports show
them: a zip of XML with no namespace (Google); gzip XML with a ``<version>`` and
``envelope_to`` attached to a message as ``application/gzip`` (Outlook.com); gzip XML with a
stray CRLF after the stream as the whole body of a non-multipart message (Mimecast); an RFC 9990
report in its namespace with upper-case results; and a TLS-RPT report as
``application/tlsrpt+gzip`` in a message (RFC 8460 section 5.3).

- exemplary-dept.gov.uk (p=reject): its service passes aligned (DKIM ``s2026``), a spoofer is
  rejected: REPORTS-01 and -02 pass, -03 does not apply (already reject), TLS-RPT clean.
- monitoring-dept.gov.uk (p=none): a mailing service signs as itself (unaligned; its address
  192.0.2.25 has a forward-confirmed PTR, o1.bulkmailer.example, in the lab's zones) and another
  signs with selector ``mktg2025``, whose key is not published: REPORTS-01, -02 and -03 fail,
  and ``mktg2025`` joins the DKIM checks as learnt from a report.
- expired-cert-dept.gov.uk: senders report ``certificate-expired`` at its MX, as CERT-03 sees.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

#: (source, count, disposition, dkim aligned, spf aligned, dkim auth [(d, s, result)],
#: spf auth [(d, result)])
Row = tuple[str, int, str, str, str, Sequence[tuple[str, str, str]], Sequence[tuple[str, str]]]


def _record(row: Row, header_from: str, *, envelope_to: bool = False, upper: bool = False) -> str:
    source, count, disposition, dkim, spf, dkim_auth, spf_auth = row

    def word(text: str) -> str:
        return text.upper() if upper else text

    auth = "".join(
        f"<dkim><domain>{d}</domain><selector>{s}</selector><result>{word(r)}</result></dkim>"
        for d, s, r in dkim_auth
    ) + "".join(
        f"<spf><domain>{d}</domain><scope>mfrom</scope><result>{word(r)}</result></spf>"
        for d, r in spf_auth
    )
    to = f"<envelope_to>{'recipient.example'}</envelope_to>" if envelope_to else ""
    return (
        f"<record><row><source_ip>{source}</source_ip><count>{count}</count>"
        f"<policy_evaluated><disposition>{disposition}</disposition><dkim>{word(dkim)}</dkim>"
        f"<spf>{word(spf)}</spf></policy_evaluated></row>"
        f"<identifiers>{to}<header_from>{header_from}</header_from></identifiers>"
        f"<auth_results>{auth}</auth_results></record>"
    )


def aggregate_xml(
    org: str,
    report_id: str,
    domain: str,
    policy: str,
    begin: datetime,
    end: datetime,
    rows: Sequence[Row],
    *,
    shape: str = "google",
) -> bytes:
    """An aggregate report in the shape a receiver sends (``google``, ``microsoft``,
    ``rfc9990``)."""
    version = "<version>1.0</version>" if shape in ("microsoft", "rfc9990") else ""
    root = (
        '<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">'
        if shape == "rfc9990"
        else '<feedback xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        if shape == "microsoft"
        else "<feedback>"
    )
    pct = "" if shape == "rfc9990" else "<pct>100</pct>"
    extra = "<np/><discovery_method>treewalk</discovery_method>" if shape == "rfc9990" else ""
    records = "".join(
        _record(r, domain, envelope_to=shape == "microsoft", upper=shape == "rfc9990") for r in rows
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{root}{version}<report_metadata>'
        f"<org_name>{org}</org_name><email>noreply-dmarc@{org}</email>"
        f"<report_id>{report_id}</report_id><date_range><begin>{int(begin.timestamp())}</begin>"
        f"<end>{int(end.timestamp())}</end></date_range></report_metadata><policy_published>"
        f"<domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf><p>{policy}</p>"
        f"<sp>{policy}</sp>{pct}{extra}</policy_published>{records}</feedback>\n"
    ).encode()


def tlsrpt_json(
    org: str,
    report_id: str,
    domain: str,
    begin: datetime,
    end: datetime,
    successful: int,
    failures: Sequence[tuple[str, str, int]],
) -> bytes:
    """A TLS-RPT report (RFC 8460 section 4.4): failures are (result type, MX host, count)."""
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    return json.dumps(
        {
            "organization-name": org,
            "date-range": {"start-datetime": f"{begin:{stamp}}", "end-datetime": f"{end:{stamp}}"},
            "contact-info": f"smtp-tls-reporting@{org}",
            "report-id": report_id,
            "policies": [
                {
                    "policy": {
                        "policy-type": "sts",
                        "policy-string": ["version: STSv1", "mode: enforce", f"mx: mx.{domain}"],
                        "policy-domain": domain,
                        "mx-host": [f"mx.{domain}"],
                    },
                    "summary": {
                        "total-successful-session-count": successful,
                        "total-failure-session-count": sum(c for _t, _h, c in failures),
                    },
                    "failure-details": [
                        {
                            "result-type": kind,
                            "sending-mta-ip": "192.0.2.77",
                            "receiving-mx-hostname": host,
                            "failed-session-count": count,
                        }
                        for kind, host, count in failures
                    ],
                }
            ],
        },
        indent=1,
    ).encode()


def mail_with(attachment: bytes, filename: str, maintype: str, subtype: str, subject: str) -> bytes:
    """A report message as receivers send it (RFC 7489 section 7.2.1.1, RFC 8460 section 5.3)."""
    message = EmailMessage()
    message["From"] = "noreply-dmarc@receiver.example"
    message["To"] = "dmarc@example.gov.uk"
    message["Subject"] = subject
    message.set_content("This is an aggregate report.\n")
    message.add_attachment(attachment, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(message)


def mail_body(attachment: bytes, filename: str, subject: str) -> bytes:
    """A report that is the message's only body (Mimecast sends them so)."""
    message = EmailMessage()
    message["From"] = "no-reply@uk-1.mimecastreport.example"
    message["Subject"] = subject
    message.set_content(attachment, maintype="application", subtype="gzip", filename=filename)
    return bytes(message)


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _zip(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return out.getvalue()


SERVICE = "127.0.2.10"  # mx.sharedmail.example: the departments' authorised sender


def write_sample_reports(folder: Path, now: datetime | None = None) -> tuple[Path, Path]:
    """Write the lab's reports under ``folder``; returns (DMARC folder, TLS-RPT folder)."""
    now = now or datetime.now(UTC)
    end = (now - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    begin = end - timedelta(days=1)
    dmarc = folder / "dmarc"
    tlsrpt = folder / "tlsrpt"
    dmarc.mkdir(parents=True, exist_ok=True)
    tlsrpt.mkdir(parents=True, exist_ok=True)
    ex = "exemplary-dept.gov.uk"
    exemplary_rows: list[Row] = [
        (SERVICE, 1200, "none", "pass", "pass", [(ex, "s2026", "pass")], [(ex, "pass")]),
        ("203.0.113.66", 40, "reject", "fail", "fail", [], [(ex, "fail")]),
    ]
    stamp = f"{int(begin.timestamp())}!{int(end.timestamp())}"
    name = f"google.com!{ex}!{stamp}.xml"
    (dmarc / f"{name[:-4]}.zip").write_bytes(
        _zip(
            name, aggregate_xml("google.com", "demo-ex-1", ex, "reject", begin, end, exemplary_rows)
        )
    )
    old_end = end - timedelta(days=60)
    (dmarc / f"google.com!{ex}!old.xml").write_bytes(
        aggregate_xml(
            "google.com",
            "demo-ex-old",
            ex,
            "reject",
            old_end - timedelta(days=1),
            old_end,
            exemplary_rows,
        )
    )
    mo = "monitoring-dept.gov.uk"
    monitoring_rows: list[Row] = [
        (SERVICE, 900, "none", "pass", "pass", [(mo, "selector1", "pass")], [(mo, "pass")]),
        (
            "192.0.2.25",
            150,
            "none",
            "fail",
            "fail",
            [("bulkmailer.example", "bm1", "pass")],
            [("bounce.bulkmailer.example", "pass")],
        ),
        (
            "192.0.2.26",
            30,
            "none",
            "fail",
            "fail",
            [(mo, "mktg2025", "fail")],
            [("mktg.example", "pass")],
        ),
        ("198.51.100.99", 60, "none", "fail", "fail", [], [(mo, "fail")]),
    ]
    report = aggregate_xml(
        "Outlook.com", "demo-mo-1", mo, "none", begin, end, monitoring_rows, shape="microsoft"
    )
    filename = f"enterprise.protection.outlook.com!{mo}!{stamp}.xml.gz"
    (dmarc / "outlook-report.eml").write_bytes(
        mail_with(_gzip(report), filename, "application", "gzip", f"Report Domain: {mo}")
    )
    mimecast_rows: list[Row] = [
        (SERVICE, 300, "none", "pass", "pass", [(mo, "selector1", "pass")], [(mo, "pass")]),
    ]
    report = aggregate_xml("Mimecast", "demo-mo-2", mo, "none", begin, end, mimecast_rows)
    (dmarc / "mimecast-report.eml").write_bytes(
        mail_body(
            _gzip(report) + b"\r\n",
            f"mimecast.org!{mo}!{stamp}.xml.gz",
            f"Report domain: {mo} Submitter: mimecast.org",
        )
    )
    rfc9990_rows: list[Row] = [
        (SERVICE, 200, "none", "pass", "pass", [(ex, "s2026", "pass")], [(ex, "pass")]),
    ]
    (dmarc / f"reporter.example!{ex}!{stamp}.xml").write_bytes(
        aggregate_xml(
            "Sample Reporter",
            "demo-ex-2",
            ex,
            "reject",
            begin,
            end,
            rfc9990_rows,
            shape="rfc9990",
        )
    )
    tls_end = end
    for domain, failures in (
        (ex, ()),
        ("expired-cert-dept.gov.uk", (("certificate-expired", "mx.expired-cert-dept.gov.uk", 25),)),
    ):
        body = tlsrpt_json(
            "google.com", f"demo-tls-{domain}", domain, begin, tls_end, 480, failures
        )
        (tlsrpt / f"google.com!{domain}.eml").write_bytes(
            mail_with(
                _gzip(body),
                f"google.com!{domain}!{int(begin.timestamp())}!{int(end.timestamp())}!1.json.gz",
                "application",
                "tlsrpt+gzip",
                f"Report Domain: {domain} Submitter: google.com",
            )
        )
    return dmarc, tlsrpt
