"""The MTA-STS policy fetcher against real HTTPS servers on loopback (the lab's LabHttpsServer).

Every fault of issue 5's HTTPS list is here: redirects and redirect loops, 404, bodies over
64 KiB and of 10 MB, a body and headers that never end, the wrong Content-Type, a certificate for
the wrong name or expired or from an unknown CA, and private addresses. Deadlines are about a
second so the whole module stays fast.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_govmail.collect import https, netsafety
from pytest_govmail.collect.https import fetch_policies, fetch_policy
from pytest_govmail.collect.netsafety import address_problem
from pytest_govmail.judge.mtasts import mtasts_cert_not_expiring
from pytest_govmail.lab.https_server import LabHttpsServer, Site, policy_text
from pytest_govmail.lab.pki import LabPki, server_context
from pytest_govmail.model.dns import DnsSnapshot, ErrorKind, ProbeError
from pytest_govmail.model.https import (
    MAX_BODY_BYTES,
    CertificateCheck,
    PolicyFetch,
    from_json,
    policies_from_json,
    policies_to_json,
    to_json,
)
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Target
from pytest_govmail.model.tls import TrustCheck
from pytest_govmail.model.verdict import Status
from pytest_govmail.records.mtasts_policy import parse_mtasts_policy

LOOPBACK = ["127.0.0.1"]
MX = ["mx1.compliant-dept.gov.uk", "mx2.compliant-dept.gov.uk"]
PAST = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)

SITES = {
    "compliant-dept.gov.uk": Site.policy("enforce", MX, 1209600),
    "crlf-dept.gov.uk": Site.policy("enforce", MX, 1209600, line_ending="\r\n"),
    "testing-dept.gov.uk": Site.policy("testing", MX, 86400),
    "partial-dept.gov.uk": Site.policy("enforce", MX[:1], 1209600),
    "moved-dept.gov.uk": Site.redirect(
        "https://mta-sts.compliant-dept.gov.uk/.well-known/mta-sts.txt"
    ),
    "found-dept.gov.uk": Site.redirect("https://policies.example.net/x", status=302),
    "loop-dept.gov.uk": Site.redirect_loop(),
    "missing-dept.gov.uk": Site.not_found(),
    "big-dept.gov.uk": Site.policy("enforce", MX, body_size=70_000),
    "huge-dept.gov.uk": Site.policy("enforce", MX, body_size=10 * 1024 * 1024),
    "chunked-dept.gov.uk": Site.policy("enforce", MX, chunked=True),
    "chunked-huge-dept.gov.uk": Site.policy("enforce", MX, body_size=10**7, chunked=True),
    "drip-dept.gov.uk": Site.drip(interval=0.05),
    "headers-dept.gov.uk": Site.endless_headers(),
    "slow-headers-dept.gov.uk": Site.endless_headers(interval=0.05),
    "html-dept.gov.uk": Site.policy("enforce", MX, content_type="text/html; charset=utf-8"),
    "untyped-dept.gov.uk": Site.policy("enforce", MX, content_type=None),
    "charset-dept.gov.uk": Site.policy("enforce", MX, content_type="text/plain; charset=utf-8"),
    "wrong-name-dept.gov.uk": Site.policy("enforce", MX, cert_name="www.wrong-name-dept.gov.uk"),
    "expired-dept.gov.uk": Site.policy("enforce", MX),
    "latin1-dept.gov.uk": Site.text(b"version: STSv1\nx-note: caf\xe9\n"),
    "interim-dept.gov.uk": Site.raw(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\nContent-Type: text/plain\n"
        b"X-Folded: a\r\n  b\r\n\r\nversion: STSv1\n"
    ),
    "short-dept.gov.uk": Site.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nmode"),
    "bad-chunk-dept.gov.uk": Site.raw(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nmodeXX\r\n0\r\n\r\n"
    ),
    "bad-size-dept.gov.uk": Site.raw(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    ),
    "two-lengths-dept.gov.uk": Site.raw(
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nmode"
    ),
    "garbage-dept.gov.uk": Site.raw(b"\x00\x01SSH-2.0-OpenSSH\r\n\r\n"),
    "bad-header-dept.gov.uk": Site.raw(b"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n"),
    "silent-dept.gov.uk": Site.raw(b""),
    # RFC 9112 section 6.3: both framings at once is an error, not "Transfer-Encoding wins".
    "length-and-chunked-dept.gov.uk": Site.raw(
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nmode\r\n0\r\n\r\n"
    ),
    "gzip-dept.gov.uk": Site.raw(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: 4\r\n\r\n\x1f\x8b\x08\x00"
    ),
    "upgrade-dept.gov.uk": Site.raw(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"),
}


class Lab:
    def __init__(self, server: LabHttpsServer, ca_file: Path) -> None:
        self.server = server
        self.ca_file = ca_file

    def fetch(self, domain: str, timeout: float = 5.0, **options: object) -> PolicyFetch:
        kwargs: dict[str, object] = {
            "port": self.server.port,
            "timeout": timeout,
            "ca_file": self.ca_file,
            "allow_private": True,
        }
        kwargs.update(options)
        addresses = kwargs.pop("addresses", LOOPBACK)
        return fetch_policy(domain, addresses, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    # The lab's CA; these servers send the leaf alone and the CA file trusts the issuing
    # intermediate directly, so each fetch records a one-certificate chain.
    pki = LabPki("pytest-govmail https tests")
    ca_file = tmp_path_factory.mktemp("https") / "ca.pem"
    ca_file.write_text(pki.ca_pem + pki.intermediate_pem)

    def certificates(name: str) -> ssl.SSLContext:
        if name == "mta-sts.expired-dept.gov.uk":
            leaf = pki.issue_leaf([name], not_before=PAST, not_after=PAST + dt.timedelta(days=90))
        else:
            leaf = pki.issue_leaf([name])
        return server_context(leaf, include_intermediate=False)

    sites = {f"mta-sts.{domain}": site for domain, site in SITES.items()}
    with LabHttpsServer(sites, certificates, max_stream_seconds=10) as server:
        yield Lab(server, ca_file)


def _requests_for(server: LabHttpsServer, host: str) -> int:
    return sum(1 for r in server.requests if r.sni == host)


# ----------------------------------------------------------------------------- good policies


def test_compliant_policy_is_fetched_as_rfc_8461_says(lab: Lab) -> None:
    fetch = lab.fetch("compliant-dept.gov.uk")
    assert fetch.error is None, fetch
    port = lab.server.port
    assert fetch.url == f"https://mta-sts.compliant-dept.gov.uk:{port}/.well-known/mta-sts.txt"
    assert fetch.host == "mta-sts.compliant-dept.gov.uk"
    assert (fetch.address, fetch.port) == ("127.0.0.1", port)
    assert fetch.status == 200 and fetch.http_version == "HTTP/1.1" and fetch.reason == "OK"
    assert fetch.content_type == "text/plain" and fetch.media_type == "text/plain"
    assert fetch.header("content-length") == str(len(fetch.body))
    assert fetch.body == policy_text("enforce", MX, 1209600)
    assert fetch.body_utf8 and not fetch.body_truncated
    assert fetch.body_bytes_read == len(fetch.body)
    assert fetch.redirect_location is None
    assert fetch.tls_version in ("TLSv1.2", "TLSv1.3")
    assert fetch.at.endswith("+00:00") and fetch.elapsed_ms > 0
    # The certificate: verified for the name through the user's CA file, not the public store.
    assert fetch.certificate is not None and fetch.certificate.verified, fetch.certificate
    assert fetch.certificate.names == ("mta-sts.compliant-dept.gov.uk",)
    assert fetch.certificate.name_matches is True
    trust = {t.store: t.verified for t in fetch.certificate.trust}
    assert trust == {"mozilla": False, "ca-file": True}  # sslyze's Mozilla store, as for MX hosts
    assert len(fetch.chain_pem) == 1 and fetch.chain_pem[0].startswith("-----BEGIN CERTIFICATE")
    assert parse_mtasts_policy(fetch.body).mx == tuple(MX)
    # SNI and Host both name the policy host; the path is the well-known one.
    logged = [r for r in lab.server.requests if r.sni == "mta-sts.compliant-dept.gov.uk"]
    assert logged[-1].host == "mta-sts.compliant-dept.gov.uk"
    assert logged[-1].path == "/.well-known/mta-sts.txt"


@pytest.mark.parametrize(
    ("domain", "mode", "mx"),
    [
        ("crlf-dept.gov.uk", "enforce", MX),
        ("testing-dept.gov.uk", "testing", MX),
        ("partial-dept.gov.uk", "enforce", MX[:1]),
        ("chunked-dept.gov.uk", "enforce", MX),
        ("charset-dept.gov.uk", "enforce", MX),
    ],
)
def test_policies_arrive_intact(lab: Lab, domain: str, mode: str, mx: list[str]) -> None:
    fetch = lab.fetch(domain)
    assert fetch.error is None and fetch.status == 200, fetch
    assert fetch.media_type == "text/plain"
    policy = parse_mtasts_policy(fetch.body)
    assert (policy.mode, policy.mx) == (mode, tuple(mx))


def test_chunked_transfer_coding_is_decoded(lab: Lab) -> None:
    fetch = lab.fetch("chunked-dept.gov.uk")
    assert fetch.header("transfer-encoding") == "chunked"
    assert fetch.body == policy_text("enforce", MX)


def test_body_that_is_not_utf8_is_recorded_with_replacement(lab: Lab) -> None:
    fetch = lab.fetch("latin1-dept.gov.uk")
    assert fetch.status == 200 and not fetch.body_utf8
    assert fetch.body.endswith("caf\ufffd\n")


# ----------------------------------------------------------------------------- redirects, status


@pytest.mark.parametrize(
    ("domain", "status", "location"),
    [
        (
            "moved-dept.gov.uk",
            301,
            "https://mta-sts.compliant-dept.gov.uk/.well-known/mta-sts.txt",
        ),
        ("found-dept.gov.uk", 302, "https://policies.example.net/x"),
    ],
)
def test_redirects_are_recorded_and_never_followed(
    lab: Lab, domain: str, status: int, location: str
) -> None:
    before = lab.server.connections
    fetch = lab.fetch(domain)
    assert fetch.error is None
    assert (fetch.status, fetch.redirect_location) == (status, location)
    assert fetch.body == "" and fetch.body_bytes_read == 0  # only a 200's body is read
    assert lab.server.connections == before + 1  # no second request, to anywhere


def test_redirect_loop_is_one_request(lab: Lab) -> None:
    before = lab.server.connections
    fetch = lab.fetch("loop-dept.gov.uk")
    assert fetch.status == 301 and fetch.redirect_location == fetch.url
    assert lab.server.connections == before + 1


def test_404_is_recorded(lab: Lab) -> None:
    fetch = lab.fetch("missing-dept.gov.uk")
    assert fetch.error is None
    assert (fetch.status, fetch.reason, fetch.content_type) == (404, "Not Found", "text/html")


def test_unknown_host_is_a_404(lab: Lab) -> None:
    fetch = lab.fetch("unknown-dept.gov.uk")
    assert fetch.error is None and fetch.status == 404


def test_tls_alert_is_recorded_as_handshake_failure(lab: Lab) -> None:
    issuer_context = ssl.create_default_context()  # never used: the mapping has no such name
    sites = {"mta-sts.other-dept.gov.uk": Site.policy("enforce", MX)}
    with LabHttpsServer(sites, {"mta-sts.other-dept.gov.uk": issuer_context}) as server:
        fetch = fetch_policy(
            "unknown-dept.gov.uk", LOOPBACK, port=server.port, timeout=2.0, allow_private=True
        )
    assert fetch.error is not None and fetch.error.kind is ErrorKind.TLS_HANDSHAKE
    assert "UNRECOGNIZED_NAME" in fetch.error.detail.upper()
    assert fetch.status is None and fetch.address == "127.0.0.1" and fetch.certificate is None


def test_the_recorded_chain_is_what_mtasts_09_judges_expiry_on(lab: Lab) -> None:
    # MTASTS-09 reads the leaf's notAfter from the recorded chain alone: a fresh lab leaf (90
    # days) passes a 30-day window; the expired one fails, though its body arrived intact.
    for domain, status, text in (
        ("compliant-dept.gov.uk", Status.PASS, "in 8"),
        ("expired-dept.gov.uk", Status.FAIL, "already expired"),
    ):
        fetch = lab.fetch(domain)
        judged = mtasts_cert_not_expiring(
            Subject(Target(domain), DnsSnapshot(()), cert_expiry_days=30, policies={domain: fetch})
        )
        assert judged.status is status and text in judged.summary, judged


def test_interim_responses_http10_bare_lf_and_folded_headers(lab: Lab) -> None:
    fetch = lab.fetch("interim-dept.gov.uk")
    assert fetch.error is None, fetch.error
    assert (fetch.http_version, fetch.status) == ("HTTP/1.0", 200)
    assert fetch.header("x-folded") == "a b"
    assert fetch.body == "version: STSv1\n"  # read until the server closed


@pytest.mark.parametrize(
    ("domain", "status", "detail"),
    [
        ("short-dept.gov.uk", 200, "the body ended after 4 of 100 bytes"),
        ("bad-chunk-dept.gov.uk", 200, "a chunk not followed by CRLF"),
        ("bad-size-dept.gov.uk", 200, "invalid chunk size line"),
        ("two-lengths-dept.gov.uk", 200, "invalid Content-Length"),
        ("garbage-dept.gov.uk", None, "not an HTTP/1.x status line"),
        ("bad-header-dept.gov.uk", 200, "not a header field"),
        ("length-and-chunked-dept.gov.uk", 200, "both Content-Length and Transfer-Encoding"),
        ("gzip-dept.gov.uk", 200, "Content-Encoding: gzip although the request asked for identity"),
        ("upgrade-dept.gov.uk", 101, "the server switched protocols (101)"),
        ("silent-dept.gov.uk", None, "closed before any response"),
    ],
)
def test_broken_http_is_a_protocol_error(
    lab: Lab, domain: str, status: int | None, detail: str
) -> None:
    fetch = lab.fetch(domain)
    assert fetch.error is not None and fetch.error.kind is ErrorKind.PROTOCOL, fetch.error
    assert detail in fetch.error.detail
    assert fetch.status == status


# ----------------------------------------------------------------------------- bounded reads


def test_body_over_64_kib_is_cut_at_64_kib(lab: Lab) -> None:
    fetch = lab.fetch("big-dept.gov.uk")
    assert fetch.error is None and fetch.status == 200
    assert fetch.body_truncated
    assert len(fetch.body.encode()) == MAX_BODY_BYTES
    assert fetch.body.startswith("version: STSv1\n")
    assert fetch.header("content-length") == "70000"


@pytest.mark.parametrize("domain", ["huge-dept.gov.uk", "chunked-huge-dept.gov.uk"])
def test_ten_megabytes_cost_64_kib(lab: Lab, domain: str) -> None:
    tracemalloc.start()
    try:
        started = time.monotonic()
        fetch = lab.fetch(domain, timeout=2.0)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fetch.error is None and fetch.body_truncated
    assert len(fetch.body) == MAX_BODY_BYTES
    assert fetch.body_bytes_read <= MAX_BODY_BYTES + 16 * 1024
    assert elapsed < 1.5
    assert peak < 3 * 1024 * 1024, peak  # the server streams; the client keeps 64 KiB


def test_body_that_never_ends_stops_at_the_deadline(lab: Lab) -> None:
    started = time.monotonic()
    fetch = lab.fetch("drip-dept.gov.uk", timeout=1.0)
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 1.5
    assert fetch.error is not None and fetch.error.kind is ErrorKind.TIMEOUT
    assert "1 s deadline" in fetch.error.detail
    assert fetch.status == 200 and fetch.body.startswith("version: STSv1\n")
    assert 0.9 * fetch.elapsed_ms / 1000 < elapsed


def test_headers_that_never_end_are_too_large(lab: Lab) -> None:
    started = time.monotonic()
    fetch = lab.fetch("headers-dept.gov.uk", timeout=5.0)
    assert time.monotonic() - started < 1.0
    assert fetch.error is not None and fetch.error.kind is ErrorKind.TOO_LARGE
    assert len(fetch.headers) <= https.MAX_HEADERS


def test_headers_that_drip_stop_at_the_deadline(lab: Lab) -> None:
    started = time.monotonic()
    fetch = lab.fetch("slow-headers-dept.gov.uk", timeout=1.0)
    assert time.monotonic() - started < 1.5
    assert fetch.error is not None and fetch.error.kind is ErrorKind.TIMEOUT


def test_many_fetches_run_concurrently_within_one_deadline(lab: Lab) -> None:
    domains = [
        "drip-dept.gov.uk",
        "slow-headers-dept.gov.uk",
        "compliant-dept.gov.uk",
        "testing-dept.gov.uk",
        "missing-dept.gov.uk",
        "headers-dept.gov.uk",
    ]
    started = time.monotonic()
    results = fetch_policies(
        [
            *((d, LOOPBACK) for d in domains),
            ("drip-dept.gov.uk", ["192.0.2.1"]),  # the same domain again: the first one wins
        ],
        port=lab.server.port,
        timeout=1.0,
        ca_file=lab.ca_file,
        allow_private=True,
        max_workers=8,
    )
    assert time.monotonic() - started < 1.8
    assert list(results) == domains
    assert [r.status for r in results.values()] == [200, 200, 200, 200, 404, 200]
    assert results["drip-dept.gov.uk"].error == ProbeError(
        ErrorKind.TIMEOUT, "no end of body within the 1 s deadline"
    )
    assert results["drip-dept.gov.uk"].address == "127.0.0.1"
    assert fetch_policies([]) == {}


# ----------------------------------------------------------------------------- content type


@pytest.mark.parametrize(
    ("domain", "content_type", "media_type"),
    [
        ("html-dept.gov.uk", "text/html; charset=utf-8", "text/html"),
        ("untyped-dept.gov.uk", None, None),
        ("charset-dept.gov.uk", "text/plain; charset=utf-8", "text/plain"),
    ],
)
def test_content_type_is_recorded(
    lab: Lab, domain: str, content_type: str | None, media_type: str | None
) -> None:
    fetch = lab.fetch(domain)
    assert (fetch.content_type, fetch.media_type) == (content_type, media_type)
    assert fetch.status == 200 and fetch.body  # recorded, and the body still read


# ----------------------------------------------------------------------------- certificates


def test_wrong_name_certificate_is_a_recorded_verification_failure(lab: Lab) -> None:
    fetch = lab.fetch("wrong-name-dept.gov.uk")
    assert fetch.error is None and fetch.status == 200  # the fetch itself went on
    cert = fetch.certificate
    assert cert is not None and not cert.verified
    assert cert.names == ("www.wrong-name-dept.gov.uk",) and cert.name_matches is False
    assert "www.wrong-name-dept.gov.uk, not mta-sts.wrong-name-dept.gov.uk" in cert.detail
    assert not any(t.verified for t in cert.trust)
    assert len(fetch.chain_pem) == 1  # the chain is still evidence


def test_expired_certificate_is_a_recorded_verification_failure(lab: Lab) -> None:
    fetch = lab.fetch("expired-dept.gov.uk")
    cert = fetch.certificate
    assert cert is not None and not cert.verified and cert.name_matches
    assert "expired on 2020-03-31" in cert.detail


def test_unknown_ca_fails_without_the_ca_file(lab: Lab) -> None:
    fetch = lab.fetch("compliant-dept.gov.uk", ca_file=None)
    cert = fetch.certificate
    assert cert is not None and not cert.verified and cert.name_matches
    assert [t.store for t in cert.trust] == ["mozilla"]
    assert fetch.status == 200


def test_unreadable_ca_file_is_recorded(lab: Lab, tmp_path: Path) -> None:
    fetch = lab.fetch("compliant-dept.gov.uk", ca_file=tmp_path / "absent.pem")
    cert = fetch.certificate
    assert cert is not None and not cert.verified
    assert "cannot read" in dict((t.store, t.detail) for t in cert.trust)["ca-file"]


# ----------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("100.64.0.1", "shared address space"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("fc00::1", "private"),
    ],
)
def test_non_public_addresses_are_never_contacted(lab: Lab, address: str, why: str) -> None:
    before = lab.server.connections
    fetch = lab.fetch("compliant-dept.gov.uk", addresses=[address], allow_private=False)
    assert fetch.error is not None and fetch.error.kind is ErrorKind.PRIVATE_ADDRESS
    assert why in fetch.error.detail and "--govmail-allow-private" in fetch.error.detail
    assert fetch.address is None and fetch.status is None and fetch.certificate is None
    assert lab.server.connections == before


def test_public_addresses_pass_the_check() -> None:
    assert address_problem("8.8.8.8") is None
    assert address_problem("2a00:1450:4009:81f::200e") is None
    assert address_problem("not-an-address") == "'not-an-address' is not an IP address"


def test_the_address_actually_connected_to_is_checked(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def first_looks_public(address: str) -> str | None:
        seen.append(address)
        return None if len(seen) == 1 else f"{address} is loopback"  # as after rebinding or NAT

    monkeypatch.setattr(netsafety, "address_problem", first_looks_public)
    fetch = lab.fetch("compliant-dept.gov.uk", allow_private=False)
    assert seen == ["127.0.0.1", "127.0.0.1"]
    assert fetch.error is not None and fetch.error.kind is ErrorKind.PRIVATE_ADDRESS
    assert "reached 127.0.0.1" in fetch.error.detail and fetch.status is None


def test_addresses_are_tried_in_order_until_one_connects(lab: Lab) -> None:
    # Nothing listens on 127.0.0.2 at the lab's port: refused, then the next address is used.
    fetch = lab.fetch("compliant-dept.gov.uk", addresses=["127.0.0.2", "bogus", "127.0.0.1"])
    assert fetch.status == 200 and fetch.address == "127.0.0.1"
    assert fetch.attempts == (
        "127.0.0.2: connection refused",
        "'bogus': not an IP address; not contacted",
        "127.0.0.1: connected",
    )


def test_private_addresses_are_skipped_when_a_public_one_is_given(lab: Lab) -> None:
    fetch = lab.fetch(
        "compliant-dept.gov.uk", addresses=["10.0.0.1", "192.0.2.1"], allow_private=False
    )
    # 192.0.2.1 (TEST-NET-1) is special-purpose too: both are refused, nothing is contacted.
    assert fetch.error is not None and fetch.error.kind is ErrorKind.PRIVATE_ADDRESS
    assert fetch.attempts[0] == "10.0.0.1 is private-use (RFC 1918); not contacted"


def test_connection_refused_everywhere(lab: Lab) -> None:
    fetch = lab.fetch("compliant-dept.gov.uk", addresses=["127.0.0.2", "127.0.0.3"])
    assert fetch.error is not None and fetch.error.kind is ErrorKind.CONNECTION_REFUSED
    assert "127.0.0.2: connection refused; 127.0.0.3: connection refused" in fetch.error.detail


def test_no_address_and_bad_names_never_raise() -> None:
    empty = fetch_policy("compliant-dept.gov.uk", [], timeout=0.5)
    assert empty.error == ProbeError(ErrorKind.OTHER, "no address to connect to")
    hostile = fetch_policy("x.gov.uk\r\nX-Injected: 1", LOOPBACK, timeout=0.5, allow_private=True)
    assert hostile.error is not None and hostile.error.kind is ErrorKind.OTHER
    assert "not a valid host name" in hostile.error.detail and hostile.attempts == ()


# ----------------------------------------------------------------------------- other servers


@pytest.fixture
def raw_server() -> Iterator[tuple[socket.socket, list[bytes]]]:
    """A TCP listener on loopback; tests decide what (if anything) it does."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    replies: list[bytes] = []
    yield listener, replies
    listener.close()


def test_server_that_never_answers_tls_times_out(
    raw_server: tuple[socket.socket, list[bytes]],
) -> None:
    listener, _ = raw_server  # the kernel accepts; nobody ever speaks
    started = time.monotonic()
    fetch = fetch_policy(
        "silent-dept.gov.uk",
        LOOPBACK,
        port=listener.getsockname()[1],
        timeout=0.5,
        allow_private=True,
    )
    assert time.monotonic() - started < 1.0
    assert fetch.error is not None and fetch.error.kind is ErrorKind.TIMEOUT
    assert "TLS handshake" in fetch.error.detail


def test_plain_http_instead_of_tls_is_a_handshake_failure(
    raw_server: tuple[socket.socket, list[bytes]],
) -> None:
    listener, _ = raw_server

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    fetch = fetch_policy(
        "plain-dept.gov.uk",
        LOOPBACK,
        port=listener.getsockname()[1],
        timeout=2.0,
        allow_private=True,
    )
    thread.join(2)
    assert fetch.error is not None and fetch.error.kind is ErrorKind.TLS_HANDSHAKE
    assert fetch.certificate is None and fetch.chain_pem == ()


# ----------------------------------------------------------------------------- evidence JSON


def test_real_fetches_round_trip_through_json(lab: Lab) -> None:
    fetches = {
        d: lab.fetch(d, timeout=0.3)
        for d in ("compliant-dept.gov.uk", "wrong-name-dept.gov.uk", "drip-dept.gov.uk")
    }
    text = json.dumps(policies_to_json(fetches), ensure_ascii=True)
    assert policies_from_json(json.loads(text)) == fetches


_TEXT = st.text(max_size=30)
_OPT = st.none() | _TEXT
_TRUST = st.builds(TrustCheck, _TEXT, st.booleans(), _TEXT)
_CERT = st.builds(
    CertificateCheck,
    st.booleans(),
    _TEXT,
    st.lists(_TEXT, max_size=3).map(tuple),
    st.none() | st.booleans(),
    st.lists(_TRUST, max_size=3).map(tuple),
)
_FETCH = st.builds(
    PolicyFetch,
    domain=_TEXT,
    url=_TEXT,
    host=_TEXT,
    port=st.integers(0, 65535),
    addresses=st.lists(_TEXT, max_size=3).map(tuple),
    address=_OPT,
    attempts=st.lists(_TEXT, max_size=3).map(tuple),
    at=_TEXT,
    elapsed_ms=st.floats(min_value=0, max_value=1e9, allow_nan=False),
    tls_version=_OPT,
    chain_pem=st.lists(_TEXT, max_size=2).map(tuple),
    certificate=st.none() | _CERT,
    http_version=_OPT,
    status=st.none() | st.integers(100, 999),
    reason=_TEXT,
    headers=st.lists(st.tuples(_TEXT, _TEXT), max_size=4).map(tuple),
    content_type=_OPT,
    redirect_location=_OPT,
    body=st.text(max_size=200),
    body_utf8=st.booleans(),
    body_truncated=st.booleans(),
    body_bytes_read=st.integers(0, 10**9),
    error=st.none() | st.builds(ProbeError, st.sampled_from(list(ErrorKind)), _TEXT),
)


@given(_FETCH)
def test_any_fetch_round_trips_exactly(fetch: PolicyFetch) -> None:
    assert from_json(json.loads(json.dumps(to_json(fetch), ensure_ascii=True))) == fetch


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"domain": "d", "url": "u", "host": "h", "port": "443"},
        {"domain": "d", "url": "u", "host": "h", "port": 443, "error": {"kind": "nope"}},
        {"domain": "d", "url": "u", "host": "h", "port": 443, "headers": [["only-name"]]},
        {"domain": "d", "url": "u", "host": "h", "port": 443, "certificate": {"verified": 1}},
    ],
)
def test_malformed_evidence_raises_value_or_type_or_key_errors(broken: dict[str, object]) -> None:
    with pytest.raises((KeyError, TypeError, ValueError)):
        from_json(broken)
