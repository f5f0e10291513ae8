"""The examples the RFCs print, read by the project's parsers: tables, no network.

Each row is an example as the RFC shows it (RFC 7489 appendix B.2 for DMARC; RFC 8461 sections
3.1, 3.2 and 4.1 for MTA-STS; RFC 8460 section 3 for TLS-RPT) with what the RFC says it means;
the texts were checked against other projects' tests that quote the same appendices (one row
joining two TLS-RPT examples says so).
An RFC's own example is the least disputable test there is: a parser that rejects one, or reads
it otherwise, is wrong. All examples here agree; none is a deliberate disagreement.
"""

from __future__ import annotations

import pytest
from factories import subject, txt

from pytest_govmail.judge.mtasts import mtasts_txt_record
from pytest_govmail.judge.tlsrpt import tlsrpt_record
from pytest_govmail.model.verdict import Status
from pytest_govmail.records.dmarc import authorisation_name, needs_authorisation, parse_dmarc
from pytest_govmail.records.mtasts import parse_mtasts_record
from pytest_govmail.records.mtasts_policy import parse_mtasts_policy
from pytest_govmail.records.tlsrpt import parse_tlsrpt

# --------------------------------------------------------------------------------------------
# DMARC: RFC 7489 appendix B.2 (the Domain Owner examples)

FEEDBACK = "mailto:dmarc-feedback@example.com"
OWN = "mailto:auth-reports@example.com"
THIRD = "mailto:auth-reports@thirdparty.example.net"
TLD = "mailto:tld-test@thirdparty.example.net"


@pytest.mark.parametrize(
    ("text", "p", "rua", "ruf", "pct"),
    [
        # B.2.1: entire domain, monitoring only.
        pytest.param(f"v=DMARC1; p=none; rua={FEEDBACK}", "none", [FEEDBACK], [], None, id="B.2.1"),
        # B.2.2: entire domain, monitoring only, per-message reports.
        pytest.param(
            f"v=DMARC1; p=none; rua={FEEDBACK}; ruf={OWN}",
            "none",
            [FEEDBACK],
            [OWN],
            None,
            id="B.2.2",
        ),
        # B.2.3: per-message failure reports directed to a third party.
        pytest.param(
            f"v=DMARC1; p=none; rua={FEEDBACK}; ruf={THIRD}",
            "none",
            [FEEDBACK],
            [THIRD],
            None,
            id="B.2.3",
        ),
        # B.2.4: subdomain, sampling, and multiple aggregate report URIs, one with a size limit
        # (the RFC prints the record over three lines; in DNS it is one string).
        pytest.param(
            f"v=DMARC1; p=quarantine; rua={FEEDBACK}, {TLD}!10m; pct=25",
            "quarantine",
            [FEEDBACK, TLD],
            [],
            25,
            id="B.2.4",
        ),
    ],
)
def test_rfc7489_appendix_b2_records(
    text: str, p: str, rua: list[str], ruf: list[str], pct: int | None
) -> None:
    record = parse_dmarc(text)
    assert (record.p, record.pct) == (p, pct)
    assert [u.uri for u in record.rua] == rua
    assert [u.uri for u in record.ruf] == ruf


def test_rfc7489_b2_4_size_limit() -> None:
    """B.2.4's ``!10m``: ten mebibytes (RFC 7489 section 6.2, units are powers of two)."""
    record = parse_dmarc(f"v=DMARC1; p=quarantine; rua={FEEDBACK}, {TLD}!10m; pct=25")
    assert [u.size for u in record.rua] == [None, 10 * 1024 * 1024]


def test_rfc7489_b2_3_third_party_authorisation() -> None:
    """B.2.3 / section 7.1: reports for example.com to thirdparty.example.net need the record
    ``example.com._report._dmarc.thirdparty.example.net`` (its text is a bare ``v=DMARC1``)."""
    assert needs_authorisation("example.com", "thirdparty.example.net")
    assert not needs_authorisation("example.com", "example.com")
    name = authorisation_name("example.com", "thirdparty.example.net")
    assert name == "example.com._report._dmarc.thirdparty.example.net"
    assert parse_dmarc("v=DMARC1").p is None  # the authorisation record has no policy


# --------------------------------------------------------------------------------------------
# MTA-STS: RFC 8461 section 3.1 (the TXT record), 3.2 (the policy), 4.1 (mx patterns)

RFC8461_POLICY = """version: STSv1
mode: enforce
mx: mail.example.com
mx: *.example.net
mx: backupmx.example.com
max_age: 604800
"""


def test_rfc8461_section_3_1_record() -> None:
    record = parse_mtasts_record("v=STSv1; id=20160831085700Z;")
    assert (record.id, record.extensions) == ("20160831085700Z", ())


def test_rfc8461_section_3_1_record_judged() -> None:
    name = "_mta-sts.example.com"
    verdict = mtasts_txt_record(subject("example.com", txt(name, "v=STSv1; id=20160831085700Z;")))
    assert verdict.status is Status.PASS, verdict


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(RFC8461_POLICY, id="LF"),
        pytest.param(RFC8461_POLICY.replace("\n", "\r\n"), id="CRLF"),
    ],
)
def test_rfc8461_section_3_2_policy(body: str) -> None:
    policy = parse_mtasts_policy(body)
    assert (policy.version, policy.mode, policy.max_age) == ("STSv1", "enforce", 604800)
    assert policy.mx == ("mail.example.com", "*.example.net", "backupmx.example.com")


@pytest.mark.parametrize(
    ("host", "matched"),
    [
        pytest.param("mail.example.com", True, id="exact"),
        pytest.param("backupmx.example.com", True, id="exact-2"),
        # Section 4.1: "*.example.com" matches "mail.example.com" but not "example.com" or
        # "foo.bar.example.com": a wildcard stands for exactly one left-most label.
        pytest.param("mx1.example.net", True, id="wildcard-one-label"),
        pytest.param("example.net", False, id="wildcard-not-the-parent"),
        pytest.param("foo.bar.example.net", False, id="wildcard-not-two-labels"),
        pytest.param("other.example.com", False, id="unlisted"),
    ],
)
def test_rfc8461_section_4_1_mx_matching(host: str, matched: bool) -> None:
    assert parse_mtasts_policy(RFC8461_POLICY).matches(host) is matched


# --------------------------------------------------------------------------------------------
# TLS-RPT: RFC 8460 section 3 (the reporting policy examples)


@pytest.mark.parametrize(
    ("text", "uris"),
    [
        pytest.param(
            "v=TLSRPTv1;rua=mailto:reports@example.com",
            ["mailto:reports@example.com"],
            id="mailto",
        ),
        pytest.param(
            "v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt",
            ["https://reporting.example.com/v1/tlsrpt"],
            id="https",
        ),
        # Not printed in the RFC: its two examples joined, as section 3 allows ("rua" is a
        # comma-separated list of URIs).
        pytest.param(
            "v=TLSRPTv1; rua=mailto:reports@example.com,https://reporting.example.com/v1/tlsrpt",
            ["mailto:reports@example.com", "https://reporting.example.com/v1/tlsrpt"],
            id="both",
        ),
    ],
)
def test_rfc8460_section_3_records(text: str, uris: list[str]) -> None:
    assert [u.uri for u in parse_tlsrpt(text).rua] == uris
    verdict = tlsrpt_record(subject("example.com", txt("_smtp._tls.example.com", text)))
    assert verdict.status is Status.PASS, verdict
