"""MTASTS-09: the MTA-STS policy host's certificate, warned of before it expires like CERT-04's.

The window is CERT-04's (``--govmail-cert-expiry-days``, else the profile's), so the two cannot
disagree; the certificates are real X.509 built with cryptography, the fetches as the collector
records them (a handshake failure keeps no chain; a certificate that fails validation is still
recorded, and its expiry still judged).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from test_judge_mtasts_policy import HOST, NOW, check, fetch, judged, leaf_pem, subject

from pytest_govmail.judge.mtasts import mtasts_cert_not_expiring
from pytest_govmail.model.dns import ErrorKind, ProbeError
from pytest_govmail.model.https import CertificateCheck
from pytest_govmail.model.verdict import Status


def chain(days_left: float) -> tuple[str, ...]:
    return (leaf_pem(HOST, not_after=NOW + timedelta(days=days_left)),)


@pytest.mark.parametrize(
    ("days_left", "window", "status", "text"),
    [
        pytest.param(80, None, Status.PASS, "in 80 days", id="far-from-expiry"),
        pytest.param(10, None, Status.FAIL, "10 day(s) left", id="inside-profile-window"),
        pytest.param(20, 30, Status.FAIL, "20 day(s) left", id="inside-30-day-option"),
        pytest.param(31, 30, Status.PASS, "in 31 days", id="just-outside-30-day-option"),
        pytest.param(-2, None, Status.FAIL, "already expired", id="expired"),
        pytest.param(5, 0, Status.PASS, "in 5 days", id="window-zero"),
    ],
)
def test_mtasts_09(days_left: float, window: int | None, status: Status, text: str) -> None:
    subj = replace(subject(fetch(chain_pem=chain(days_left))), cert_expiry_days=window)
    verdict = judged(mtasts_cert_not_expiring, subj)
    check(verdict, status, ["mtasts.cert.expiry_soon"] if status is Status.FAIL else [])
    assert text in verdict.summary
    assert any(k == "judged at" and "warning window" in v for k, v in verdict.details)


def test_a_certificate_that_fails_validation_is_still_judged_for_expiry() -> None:
    refused = CertificateCheck(False, "self-signed", (HOST,), True, ())
    verdict = mtasts_cert_not_expiring(subject(fetch(chain_pem=chain(3), certificate=refused)))
    check(verdict, Status.FAIL, ["mtasts.cert.expiry_soon"])


@pytest.mark.parametrize(
    ("error", "status"),
    [
        pytest.param(
            ProbeError(ErrorKind.TLS_HANDSHAKE, "TLS handshake failed: alert"),
            Status.NOT_APPLICABLE,
            id="handshake-failed",
        ),
        pytest.param(ProbeError(ErrorKind.TIMEOUT, "10 s"), Status.INCONCLUSIVE, id="timeout"),
        pytest.param(
            ProbeError(ErrorKind.CONNECTION_REFUSED, "443"),
            Status.INCONCLUSIVE,
            id="connection-refused",
        ),
    ],
)
def test_no_certificate_recorded(error: ProbeError, status: Status) -> None:
    verdict = mtasts_cert_not_expiring(
        subject(fetch(chain_pem=(), certificate=None, status=None, body="", error=error))
    )
    assert verdict.status is status, verdict
    assert "MTASTS-02" in verdict.summary


def test_an_unreadable_certificate_is_inconclusive() -> None:
    verdict = mtasts_cert_not_expiring(subject(fetch(chain_pem=("not a certificate",))))
    assert verdict.status is Status.INCONCLUSIVE, verdict


def test_no_fetch_answers_as_the_other_policy_judges() -> None:
    verdict = mtasts_cert_not_expiring(subject(fetched=False))
    assert verdict.status is Status.INCONCLUSIVE and "not fetched" in verdict.summary


def test_the_window_is_cert_04s() -> None:
    # One window for both: the option overrides the profile for the MX and policy hosts alike.
    subj = replace(subject(fetch(chain_pem=chain(20))), cert_expiry_days=30)
    assert (
        mtasts_cert_not_expiring(subj).findings[0].expected == "more than 30 days before notAfter"
    )
