"""DMARC aggregate and TLS-RPT report parsing: receivers' shapes, containers, hostile files.

The fixtures are written here in the shapes real receivers send, as the public sample reports
of DMARC tools show them (parsedmarc's ``samples/`` holds reports from Outlook.com, Mimecast,
Google, Fastmail and others; the values here are our own): Google (zip, no namespace,
``extra_contact_info``, ``np``), Outlook.com (``<version>``, ``envelope_to``, XSD/XSI namespace
declarations, no DKIM result at all), Mimecast (``standalone="yes"``, ``<human_result/>``, and a
gzip attachment with a stray CRLF after it, as the whole body of a non-multipart message),
reporters that write ``Pass`` in mixed case, the draft namespace
``http://dmarc.org/dmarc-xml/0.1``, Fastmail-style empty optional elements, RFC 9990's
``urn:ietf:params:xml:ns:dmarc-2.0`` (its own sample); TLS-RPT as RFC 8460 section 4.4 prints
it, Google's (``no-policy-found``, no details, in ``multipart/report`` with a text part a
gateway rewrote), Mail.ru's (failures without an MX host) and details with empty fields.
Hostile files: DTDs and entities (billion laughs, external entities), zip and gzip bombs,
nesting, truncation, and random bytes (hypothesis).
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_govmail.feedback import ReportError
from pytest_govmail.feedback.aggregate import MAX_ELEMENTS, parse_aggregate
from pytest_govmail.feedback.tlsrpt import parse_tlsrpt
from pytest_govmail.feedback.unpack import payloads
from pytest_govmail.inputs.feedback_files import read_reports
from pytest_govmail.lab.sample_reports import aggregate_xml, mail_with, tlsrpt_json

NOW = datetime(2026, 12, 1, tzinfo=UTC)
BEGIN = int((NOW - timedelta(days=2)).timestamp())
END = int((NOW - timedelta(days=1)).timestamp())

GOOGLE = f"""<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <report_metadata>
    <org_name>google.com</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <extra_contact_info>https://support.google.com/a/answer/2466580</extra_contact_info>
    <report_id>12598866915817748661</report_id>
    <date_range><begin>{BEGIN}</begin><end>{END}</end></date_range>
  </report_metadata>
  <policy_published>
    <domain>example.gov.uk</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp>
    <pct>100</pct><np>none</np>
  </policy_published>
  <record>
    <row>
      <source_ip>209.85.220.41</source_ip><count>12</count>
      <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf>
      </policy_evaluated>
    </row>
    <identifiers><header_from>example.gov.uk</header_from></identifiers>
    <auth_results>
      <dkim><domain>example.gov.uk</domain><result>pass</result><selector>google</selector></dkim>
      <spf><domain>example.gov.uk</domain><result>pass</result></spf>
    </auth_results>
  </record>
</feedback>
""".encode()

MICROSOFT = f"""<?xml version="1.0"?>
<feedback xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <version>1.0</version>
  <report_metadata>
    <org_name>Enterprise Outlook</org_name>
    <email>dmarcreport@microsoft.com</email>
    <report_id>a4b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5</report_id>
    <date_range><begin>{BEGIN}</begin><end>{END}</end></date_range>
  </report_metadata>
  <policy_published>
    <domain>example.gov.uk</domain><adkim>r</adkim><aspf>r</aspf><p>quarantine</p>
    <sp>quarantine</sp><pct>100</pct><fo>0</fo>
  </policy_published>
  <record>
    <row>
      <source_ip>2a01:111:f400:7e1a::200</source_ip><count>3</count>
      <policy_evaluated><disposition>quarantine</disposition><dkim>fail</dkim><spf>fail</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <envelope_to>outlook.com</envelope_to><envelope_from>bounce.mailer.example</envelope_from>
      <header_from>example.gov.uk</header_from>
    </identifiers>
    <auth_results>
      <dkim><domain>mailer.example</domain><selector>m1</selector><result>pass</result></dkim>
      <spf><domain>bounce.mailer.example</domain><scope>mfrom</scope><result>pass</result></spf>
    </auth_results>
  </record>
</feedback>
""".encode()

MIMECAST = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<feedback>
  <report_metadata>
    <org_name>Mimecast</org_name>
    <email>no-reply@uk-1.mimecastreport.example</email>
    <extra_contact_info>https://community.mimecast.example/s/knowledge</extra_contact_info>
    <report_id>0d5e7c3a9b1f4e2d8c6a0b9e7f5d3c1a</report_id>
    <date_range><begin>{BEGIN}</begin><end>{END}</end></date_range>
  </report_metadata>
  <policy_published>
    <domain>example.gov.uk</domain><adkim>r</adkim><aspf>r</aspf><p>reject</p><sp>none</sp>
    <pct>100</pct>
  </policy_published>
  <record>
    <row><source_ip>198.51.100.7</source_ip><count>5</count>
      <policy_evaluated><disposition>reject</disposition><dkim>fail</dkim><spf>fail</spf>
      </policy_evaluated></row>
    <identifiers><header_from>example.gov.uk</header_from></identifiers>
    <auth_results>
      <dkim><domain>example.gov.uk</domain><selector>selector1</selector><result>fail</result>
        <human_result/></dkim>
      <spf><domain>example.gov.uk</domain><result>fail</result></spf>
    </auth_results>
  </record>
</feedback>
""".encode()

# Mixed-case results, as some reporters write them.
MIXED_CASE = f"""<?xml version="1.0" encoding="UTF-8" ?>
<feedback><report_metadata><org_name>example.net </org_name><email>postmaster@example.net</email>
<report_id>aggr_report_example.net_1</report_id>
<date_range><begin>{BEGIN}</begin><end>{END}</end></date_range></report_metadata>
<policy_published><domain>example.gov.uk</domain><p>Reject</p><pct>100</pct></policy_published>
<record><row><source_ip>192.0.2.44</source_ip><count>1</count><policy_evaluated>
<disposition>None</disposition><dkim>Pass</dkim><spf>PASS</spf></policy_evaluated></row>
<identifiers><header_from>EXAMPLE.GOV.UK.</header_from></identifiers>
<auth_results><dkim><domain>example.gov.uk</domain><result>Pass</result>
<human_result>verify result: all signatures verified</human_result></dkim>
<spf><domain>example.gov.uk</domain><result>Pass</result></spf></auth_results>
</record></feedback>
""".encode()

# The draft schema's namespace as a default namespace.
DRAFT_NAMESPACE = GOOGLE.replace(
    b"<feedback>", b'<feedback xmlns="http://dmarc.org/dmarc-xml/0.1">'
)

# Empty optional elements and no auth_results at all, as small receivers send them.
FASTMAIL = f"""<?xml version="1.0" encoding="UTF-8"?>
<feedback><report_metadata><org_name>Fastmail Pty Ltd</org_name><email/>
<report_id>fm-42</report_id><extra_contact_info></extra_contact_info>
<date_range><begin>{BEGIN}</begin><end>{END}</end></date_range></report_metadata>
<policy_published><domain>example.gov.uk</domain><adkim/><aspf/><p>none</p><sp/><pct/>
</policy_published>
<record><row><source_ip>192.0.2.10</source_ip><count>1</count><policy_evaluated>
<disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated></row>
<identifiers><envelope_from></envelope_from><header_from>example.gov.uk</header_from>
</identifiers></record></feedback>
""".encode()

RFC9990 = f"""<?xml version="1.0" encoding="UTF-8"?>
<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">
  <version>1.0</version>
  <report_metadata>
    <org_name>Sample Reporter</org_name><email>report_sender@example-reporter.com</email>
    <report_id>3v98abbp8ya9n3va8yr8oa3ya</report_id>
    <date_range><begin>{BEGIN}</begin><end>{END}</end></date_range>
    <generator>Example DMARC Aggregate Reporter v1.2</generator>
  </report_metadata>
  <policy_published>
    <domain>example.gov.uk</domain><p>quarantine</p><sp>none</sp><np>none</np>
    <testing>n</testing><discovery_method>treewalk</discovery_method>
  </policy_published>
  <record>
    <row><source_ip>192.0.2.123</source_ip><count>123</count>
      <policy_evaluated><disposition>pass</disposition><dkim>pass</dkim><spf>fail</spf>
      </policy_evaluated></row>
    <identifiers><envelope_from>example.gov.uk</envelope_from>
      <header_from>example.gov.uk</header_from></identifiers>
    <auth_results>
      <dkim><domain>example.gov.uk</domain><result>pass</result><selector>abc123</selector>
        <human_result>good signature</human_result></dkim>
      <spf><domain>example.gov.uk</domain><scope>mfrom</scope><result>fail</result></spf>
    </auth_results>
  </record>
</feedback>
""".encode()

# RFC 8460 section 4.4's example, with its dates moved into the window.
TLSRPT = {
    "organization-name": "Company-X",
    "date-range": {
        "start-datetime": f"{NOW - timedelta(days=2):%Y-%m-%dT%H:%M:%SZ}",
        "end-datetime": f"{NOW - timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}",
    },
    "contact-info": "sts-reporting@company-x.example",
    "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
    "policies": [
        {
            "policy": {
                "policy-type": "sts",
                "policy-string": ["version: STSv1", "mode: testing", "mx: *.mail.example.gov.uk"],
                "policy-domain": "example.gov.uk",
                "mx-host": ["*.mail.example.gov.uk"],
            },
            "summary": {"total-successful-session-count": 5326, "total-failure-session-count": 303},
            "failure-details": [
                {
                    "result-type": "certificate-expired",
                    "sending-mta-ip": "2001:db8:abcd:0012::1",
                    "receiving-mx-hostname": "mx1.mail.example.gov.uk",
                    "failed-session-count": 100,
                },
                {
                    "result-type": "starttls-not-supported",
                    "sending-mta-ip": "2001:db8:abcd:0013::1",
                    "receiving-mx-hostname": "mx2.mail.example.gov.uk",
                    "receiving-ip": "203.0.113.56",
                    "failed-session-count": 200,
                    "additional-information": "https://reports.company-x.example/why",
                },
                {
                    "result-type": "validation-failure",
                    "sending-mta-ip": "198.51.100.62",
                    "receiving-ip": "203.0.113.58",
                    "receiving-mx-hostname": "mx3.mail.example.gov.uk",
                    "failed-session-count": 3,
                    "failure-reason-code": "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED",
                },
            ],
        }
    ],
}


def _zip(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("xml", "org", "policy", "rows", "first_dkim", "schema"),
    [
        (GOOGLE, "google.com", "none", 1, ("example.gov.uk", "pass", "google"), "rfc7489"),
        (
            MICROSOFT,
            "Enterprise Outlook",
            "quarantine",
            1,
            ("mailer.example", "pass", "m1"),
            "rfc7489",
        ),
        (MIMECAST, "Mimecast", "reject", 1, ("example.gov.uk", "fail", "selector1"), "rfc7489"),
        (MIXED_CASE, "example.net", "reject", 1, ("example.gov.uk", "pass", ""), "rfc7489"),
        (DRAFT_NAMESPACE, "google.com", "none", 1, ("example.gov.uk", "pass", "google"), "rfc7489"),
        (FASTMAIL, "Fastmail Pty Ltd", "none", 1, None, "rfc7489"),
        (
            RFC9990,
            "Sample Reporter",
            "quarantine",
            1,
            ("example.gov.uk", "pass", "abc123"),
            "rfc9990",
        ),
    ],
    ids=["google", "outlook", "mimecast", "mixed-case", "draft-namespace", "fastmail", "rfc9990"],
)
def test_receivers_shapes_parse(
    xml: bytes,
    org: str,
    policy: str,
    rows: int,
    first_dkim: tuple[str, str, str] | None,
    schema: str,
) -> None:
    report = parse_aggregate(xml)
    assert (report.org_name, report.policy, len(report.rows), report.schema) == (
        org,
        policy,
        rows,
        schema,
    )
    assert report.domain == "example.gov.uk"
    assert report.end == datetime.fromtimestamp(END, UTC)
    row = report.rows[0]
    assert row.dkim_aligned in ("pass", "fail") and row.spf_aligned in ("pass", "fail")
    if first_dkim is None:
        assert not row.dkim
    else:
        got = row.dkim[0]
        assert (got.domain, got.result, got.selector) == first_dkim


def test_mixed_case_results_read_as_rfc_words() -> None:
    report = parse_aggregate(MIXED_CASE)
    row = report.rows[0]
    assert (report.policy, row.disposition, row.dkim_aligned, row.spf_aligned) == (
        "reject",
        "none",
        "pass",
        "pass",
    )
    assert row.header_from == "example.gov.uk" and row.spf[0].result == "pass"


def test_outlook_unaligned_service_is_recognised() -> None:
    row = parse_aggregate(MICROSOFT).rows[0]
    assert not row.passes_dmarc and row.authenticates_unaligned
    assert row.source_ip == "2a01:111:f400:7e1a::200"


def test_a_record_without_source_or_count_is_skipped_not_the_report() -> None:
    broken = GOOGLE.replace(b"<count>12</count>", b"<count>lots</count>")
    report = parse_aggregate(broken)
    assert report.rows == () and report.skipped_rows == 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not well-formed"),
        (b"<html><body>hello</body></html>", "root element is <html>"),
        (b"<feedback><record/></feedback>", "no report_metadata"),
        (GOOGLE.replace(b"</feedback>", b""), "not well-formed"),
        (GOOGLE.replace(f"<begin>{BEGIN}".encode(), b"<begin>yesterday"), "not a Unix time"),
        (
            GOOGLE.replace(
                b"<domain>example.gov.uk</domain><adkim>", b"<domain>a b</domain><adkim>"
            ),
            "no policy_published domain",
        ),
    ],
    ids=["empty", "html", "no-metadata", "truncated", "bad-date", "bad-domain"],
)
def test_not_a_report_is_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ReportError, match=reason):
        parse_aggregate(data)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<feedback><report_metadata><org_name>&lol3;</org_name></report_metadata></feedback>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE feedback [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<feedback><report_metadata><org_name>&xxe;</org_name></report_metadata></feedback>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE feedback SYSTEM "http://198.51.100.1/evil.dtd"><feedback/>"""


UTF16_LAUGHS = (
    BILLION_LAUGHS.replace(b'version="1.0"', b'version="1.0" encoding="UTF-16"')
    .decode("ascii")
    .encode("utf-16")
)


@pytest.mark.parametrize(
    "data",
    [BILLION_LAUGHS, XXE, EXTERNAL_DTD, UTF16_LAUGHS],
    ids=["laughs", "xxe", "dtd", "utf16-laughs"],
)
def test_dtds_and_entities_are_refused(data: bytes) -> None:
    with pytest.raises(ReportError, match="DTD"):
        parse_aggregate(data)


def test_element_count_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pytest_govmail.feedback.aggregate.MAX_ELEMENTS", 50)
    many = b"<feedback>" + b"<x/>" * 100 + b"</feedback>"
    with pytest.raises(ReportError, match="more than 50 XML elements"):
        parse_aggregate(many)
    assert MAX_ELEMENTS >= 1_000_000  # the real bound fits a 50,000-record report


def test_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"\0" * (40 * 1024 * 1024))  # 40 MiB of zeros in ~40 KiB
    assert len(bomb) < 100_000
    with pytest.raises(ReportError, match="decompression bomb"):
        list(payloads(bomb))


def test_zip_bomb_is_refused_by_declared_and_real_size() -> None:
    bomb = _zip("report.xml", b"\0" * (40 * 1024 * 1024))
    with pytest.raises(ReportError, match="decompression bomb"):
        list(payloads(bomb))


def test_zip_of_many_members_and_nested_archives_are_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for i in range(20):
            archive.writestr(f"r{i}.xml", GOOGLE)
    with pytest.raises(ReportError, match="20 files"):
        list(payloads(out.getvalue()))
    nested = gzip.compress(gzip.compress(gzip.compress(GOOGLE)))
    with pytest.raises(ReportError, match="nested too deeply"):
        list(payloads(nested))


@pytest.mark.parametrize(
    "data", [b"\x1f\x8b\x08\x00garbage", b"PK\x03\x04garbage"], ids=["gzip", "zip"]
)
def test_corrupt_archives_are_refused(data: bytes) -> None:
    with pytest.raises(ReportError, match=r"corrupt|truncated"):
        list(payloads(data))


def test_tlsrpt_rfc8460_example() -> None:
    report = parse_tlsrpt(json.dumps(TLSRPT).encode())
    (policy,) = report.policies
    assert (policy.policy_type, policy.policy_domain, policy.successful, policy.failed) == (
        "sts",
        "example.gov.uk",
        5326,
        303,
    )
    assert [(f.result_type, f.receiving_mx_hostname, f.count) for f in policy.failures] == [
        ("certificate-expired", "mx1.mail.example.gov.uk", 100),
        ("starttls-not-supported", "mx2.mail.example.gov.uk", 200),
        ("validation-failure", "mx3.mail.example.gov.uk", 3),
    ]


def test_tlsrpt_mx_host_as_a_string_and_no_failure_details() -> None:
    document = json.loads(json.dumps(TLSRPT))
    entry = document["policies"][0]
    entry["policy"]["mx-host"] = "mx.example.gov.uk"
    del entry["failure-details"]
    (policy,) = parse_tlsrpt(json.dumps(document).encode()).policies
    assert policy.mx_hosts == ("mx.example.gov.uk",) and policy.failures == ()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"[1, 2]", "not an object"),
        (b"{}", "no date-range or policies"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[" * 100_000, "nested too deeply|not JSON"),
        (json.dumps({**TLSRPT, "date-range": {"start-datetime": "x"}}).encode(), "RFC 3339"),
        (
            json.dumps(
                {**TLSRPT, "policies": [{"policy": {"policy-domain": "x y"}, "summary": {}}]}
            ).encode(),
            "not a domain",
        ),
    ],
    ids=["list", "empty", "binary", "deep", "date", "domain"],
)
def test_tlsrpt_not_a_report_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(ReportError, match=reason):
        parse_tlsrpt(data)


def test_files_folders_messages_and_bad_files_in_one_run(tmp_path: Path) -> None:
    """Every container a receiver uses, read from a folder; bad files refused, none fatal."""
    folder = tmp_path / "rua"
    (folder / "sub").mkdir(parents=True)
    (folder / "google.com!example.gov.uk!1!2.zip").write_bytes(_zip("google.xml", GOOGLE))
    (folder / "sub" / "outlook.xml.gz").write_bytes(gzip.compress(MICROSOFT))
    (folder / "mimecast.xml").write_bytes(MIMECAST)
    for subtype, name, payload in (
        ("octet-stream", "fm.xml.gz", gzip.compress(FASTMAIL)),
        ("x-zip-compressed", "r.zip", _zip("rfc9990.xml", RFC9990)),
    ):
        (folder / f"{name}.eml").write_bytes(mail_with(payload, name, "application", subtype, "x"))
    (folder / "notes.txt").write_bytes(b"not a report at all")
    (folder / "laughs.xml").write_bytes(BILLION_LAUGHS)
    (folder / "bomb.xml.gz").write_bytes(gzip.compress(b"<" * (40 * 1024 * 1024)))
    (folder / "empty.eml").write_bytes(b"From: a@example\nSubject: hi\n\nno attachment\n")
    tls = tmp_path / "tls.eml"
    tls.write_bytes(
        mail_with(
            gzip.compress(json.dumps(TLSRPT).encode()),
            "r.json.gz",
            "application",
            "tlsrpt+gzip",
            "Report Domain: example.gov.uk",
        )
    )
    feedback = read_reports([folder], [tls, tmp_path / "missing"], now=NOW)
    domain = feedback.domains["example.gov.uk"]
    assert domain.dmarc_reports == 5 and domain.tls_reports == 1
    assert domain.tls_failures[("mx1.mail.example.gov.uk", "certificate-expired")] == 100
    assert domain.selectors.keys() == {"google", "selector1", "abc123"}
    refused = {Path(r.source.split(" [")[0]).name: r.reason for r in feedback.refused}
    assert set(refused) == {"notes.txt", "laughs.xml", "bomb.xml.gz", "empty.eml", "missing"}
    assert "DTD" in refused["laughs.xml"] and "bomb" in refused["bomb.xml.gz"]


def test_reports_older_than_the_window_are_ignored_and_counted(tmp_path: Path) -> None:
    old = NOW - timedelta(days=45)
    xml = aggregate_xml(
        "google.com",
        "old",
        "example.gov.uk",
        "none",
        old - timedelta(days=1),
        old,
        [("192.0.2.1", 3, "none", "pass", "pass", [], [])],
    )
    (tmp_path / "old.xml").write_bytes(xml)
    (tmp_path / "old.json").write_bytes(
        tlsrpt_json("x", "t", "example.gov.uk", old - timedelta(days=1), old, 1, ())
    )
    feedback = read_reports([tmp_path / "old.xml"], [tmp_path / "old.json"], now=NOW)
    domain = feedback.domains["example.gov.uk"]
    assert (domain.dmarc_reports, domain.dmarc_old, domain.tls_reports, domain.tls_old) == (
        0,
        1,
        0,
        1,
    )
    wider = read_reports([tmp_path / "old.xml"], now=NOW, window_days=60)
    assert wider.domains["example.gov.uk"].dmarc_reports == 1


def test_the_same_report_twice_is_counted_once(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_bytes(GOOGLE)
    (tmp_path / "b.xml").write_bytes(GOOGLE)
    feedback = read_reports([tmp_path], now=NOW)
    assert feedback.duplicates == 1
    assert feedback.domains["example.gov.uk"].messages == 12


def test_reports_for_other_domains_are_named_not_kept(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_bytes(GOOGLE)
    feedback = read_reports([tmp_path], now=NOW, domains={"other.gov.uk"})
    assert feedback.domains == {} and feedback.other_domains == ("example.gov.uk",)


def test_mimecast_gzip_with_a_stray_crlf_as_the_whole_message_body(tmp_path: Path) -> None:
    """Mimecast sends the gzip as the only body of the message, with CRLF after the stream."""
    body = base64.encodebytes(gzip.compress(MIMECAST) + b"\r\n").decode()
    message = (
        "From: no-reply@uk-1.mimecastreport.example\r\n"
        "Subject: Report domain: example.gov.uk Submitter: mimecast.org\r\n"
        "Content-Type: application/gzip\r\nContent-Transfer-Encoding: base64\r\n"
        'Content-Disposition: attachment;\r\n filename="mimecast.org!example.gov.uk!1!2.xml.gz"\r\n'
        "MIME-Version: 1.0\r\n\r\n" + body
    )
    (tmp_path / "mimecast.eml").write_text(message)
    feedback = read_reports([tmp_path], now=NOW)
    assert feedback.refused == ()
    assert feedback.domains["example.gov.uk"].selectors.keys() == {"selector1"}


def test_google_tlsrpt_in_multipart_report_with_a_rewritten_text_part(tmp_path: Path) -> None:
    report = {
        "organization-name": "Google Inc.",
        "date-range": TLSRPT["date-range"],
        "contact-info": "smtp-tls-reporting@google.com",
        "report-id": "2026-11-30T00:00:00Z_example.gov.uk",
        "policies": [
            {
                "policy": {"policy-type": "no-policy-found", "policy-domain": "example.gov.uk"},
                "summary": {"total-successful-session-count": 48, "total-failure-session-count": 0},
            }
        ],
    }
    attachment = base64.encodebytes(gzip.compress(json.dumps(report).encode())).decode()
    message = (
        "From: noreply-smtp-tls-reporting@google.com\r\nTLS-Report-Domain: example.gov.uk\r\n"
        'Content-Type: multipart/report; boundary="B"; report-type=tlsrpt\r\n'
        "MIME-Version: 1.0\r\n\r\n--B\r\nContent-Type: text/plain; charset=UTF-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\nExternal Email =E2=80=93 Please use "
        "caution\r\n\r\nThis is an aggregate TLS report from google.com\r\n--B\r\n"
        "Content-Type: application/tlsrpt+gzip;\r\n"
        '\tname="google.com!example.gov.uk!1!2!001.json.gz"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + attachment + "\r\n--B--\r\n"
    )
    (tmp_path / "google.eml").write_text(message)
    feedback = read_reports([], [tmp_path], now=NOW)
    domain = feedback.domains["example.gov.uk"]
    assert feedback.refused == ()
    assert (domain.tls_reports, domain.tls_successful, domain.tls_policy_types) == (
        1,
        48,
        ("no-policy-found",),
    )


@pytest.mark.parametrize("host", [None, ""], ids=["absent", "empty"])
def test_tlsrpt_failures_without_an_mx_host(host: str | None) -> None:
    """Mail.ru leaves receiving-mx-hostname out of policy-fetch failures; others send ""."""
    detail: dict[str, object] = {
        "result-type": "sts-policy-fetch-error",
        "failure-reason-code": "bad https response code: 404",
        "failed-session-count": 1,
    }
    if host is not None:
        detail.update({"receiving-mx-hostname": host, "sending-mta-ip": "", "receiving-ip": ""})
    document = {
        **TLSRPT,
        "policies": [
            {
                "policy": {"policy-domain": "example.gov.uk", "policy-type": "sts"},
                "summary": {"total-failure-session-count": 1, "total-successful-session-count": 0},
                "failure-details": [detail],
            }
        ],
    }
    (failure,) = parse_tlsrpt(json.dumps(document).encode()).policies[0].failures
    assert (failure.result_type, failure.receiving_mx_hostname) == ("sts-policy-fetch-error", "")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzz_random_bytes_never_escape_as_anything_but_report_error(data: bytes) -> None:
    for parse in (parse_aggregate, parse_tlsrpt):
        try:
            parse(data)
        except ReportError:
            pass
    try:
        list(payloads(data))
    except ReportError:
        pass


_TEXT = st.text(max_size=40)


@settings(max_examples=300, deadline=None)
@given(org=_TEXT, source=_TEXT, count=_TEXT, result=_TEXT, domain=_TEXT, selector=_TEXT)
def test_fuzz_field_values_in_a_well_formed_report(
    org: str, source: str, count: str, result: str, domain: str, selector: str
) -> None:
    from xml.sax.saxutils import escape

    def e(text: str) -> str:
        # XML 1.0 cannot carry most control characters at all: leave them out of the document.
        return escape(
            "".join(
                c
                for c in text
                if c in "\t\n\r"
                or (ord(c) >= 32 and c not in "\ufffe\uffff" and not 0xD800 <= ord(c) <= 0xDFFF)
            )
        )

    xml = (
        GOOGLE.decode()
        .replace("<org_name>google.com", f"<org_name>{e(org)}")
        .replace("<source_ip>209.85.220.41", f"<source_ip>{e(source)}")
        .replace("<count>12", f"<count>{e(count)}")
        .replace(
            "<result>pass</result><selector>google",
            f"<result>{e(result)}</result><selector>{e(selector)}",
        )
        .replace("<header_from>example.gov.uk", f"<header_from>{e(domain)}")
    )
    try:
        report = parse_aggregate(xml.encode("utf-8", "surrogatepass"))
    except ReportError:
        return
    assert len(report.org_name) <= 200
    for row in report.rows:
        assert row.count >= 0 and row.header_from


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4)
        ),
        max_leaves=30,
    )
)
def test_fuzz_json_shapes_in_tlsrpt(value: object) -> None:
    document = json.loads(json.dumps(TLSRPT))
    document["policies"][0]["failure-details"][0]["failed-session-count"] = value
    document["policies"][0]["policy"]["mx-host"] = value
    try:
        parse_tlsrpt(json.dumps(document).encode())
    except ReportError:
        pass


_HEADERS = st.sampled_from(
    [
        b"",
        b"From: a@example\r\nContent-Type: application/gzip\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n",
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\n'
        b"Content-Type: application/zip\r\n\r\n",
        b"Subject: x\r\n\r\n",
    ]
)


@settings(max_examples=200, deadline=None)
@given(head=_HEADERS, body=st.binary(max_size=1500))
def test_fuzz_whole_files_are_refused_for_a_reason_we_wrote(
    tmp_path_factory: pytest.TempPathFactory, head: bytes, body: bytes
) -> None:
    """Any file, message or not: read_reports never raises, and a refusal is one of ours, not
    the catch-all for an exception nobody expected."""
    path = tmp_path_factory.mktemp("fuzz") / "report"
    path.write_bytes(head + body)
    for dmarc, tls in (([path], []), ([], [path])):
        feedback = read_reports(dmarc, tls, now=NOW)
        assert all(not r.reason.startswith("unreadable (") for r in feedback.refused), feedback


def test_fifos_devices_and_huge_files_are_refused_without_reading(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.xml"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.xml"
    with huge.open("wb") as handle:
        handle.truncate(17 * 1024 * 1024)  # sparse: over the bound without writing it
    feedback = read_reports([fifo, Path("/dev/zero"), huge], now=NOW)
    reasons = {Path(r.source).name: r.reason for r in feedback.refused}
    assert reasons["pipe.xml"] == reasons["zero"] == "not a regular file"
    assert "more than 16,777,216" in reasons["huge.xml"]


def test_a_byte_order_mark_is_no_obstacle(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_bytes(b"\xef\xbb\xbf" + GOOGLE)
    (tmp_path / "b.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(TLSRPT).encode())
    feedback = read_reports([tmp_path / "a.xml"], [tmp_path / "b.json"], now=NOW)
    domain = feedback.domains["example.gov.uk"]
    assert (feedback.refused, domain.dmarc_reports, domain.tls_reports) == ((), 1, 1)
