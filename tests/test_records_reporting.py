"""The TLS-RPT (RFC 8460 section 3) and MTA-STS TXT (RFC 8461 section 3.1) record parsers."""

from __future__ import annotations

import pytest
from factories import txt
from hypothesis import given
from hypothesis import strategies as st

from pytest_govmail.model.dns import DnsResult
from pytest_govmail.records.mtasts import (
    MtaStsSyntaxError,
    mtasts_records,
    parse_mtasts_record,
)
from pytest_govmail.records.tlsrpt import TlsRptSyntaxError, parse_tlsrpt, tlsrpt_records

NCSC = "mailto:tls-rua@mailcheck.service.ncsc.gov.uk"


@pytest.mark.parametrize(
    ("text", "uris", "extensions"),
    [
        pytest.param(f"v=TLSRPTv1; rua={NCSC}", [NCSC], (), id="minimal"),
        pytest.param(f"v=TLSRPTv1;rua={NCSC};", [NCSC], (), id="tight-trailing-semi"),
        pytest.param(
            f"v=TLSRPTv1 ;\trua={NCSC} , https://reports.example/tlsrpt ; ",
            [NCSC, "https://reports.example/tlsrpt"],
            (),
            id="list-with-spaces",
        ),
        pytest.param(
            f"v=TLSRPTv1; rua={NCSC}; x-ext.1=value",
            [NCSC],
            (("x-ext.1", "value"),),
            id="extension",
        ),
        pytest.param(
            f"v=TLSRPTv1; RUA=x; rua={NCSC}",
            [NCSC],
            (("RUA", "x"),),
            id="upper-case-rua-is-an-extension",
        ),
        pytest.param(
            "v=TLSRPTv1; rua=ftp://x.example/r", ["ftp://x.example/r"], (), id="other-scheme-parses"
        ),
    ],
)
def test_valid_tlsrpt(text: str, uris: list[str], extensions: tuple[tuple[str, str], ...]) -> None:
    record = parse_tlsrpt(text)
    assert [u.uri for u in record.rua] == uris
    assert record.extensions == extensions


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("v=TLSRPTv1", id="no-rua"),
        pytest.param("v=TLSRPTv1;", id="nothing-after-version"),
        pytest.param(f"v=tlsrptv1; rua={NCSC}", id="version-case-sensitive"),
        pytest.param(f" v=TLSRPTv1; rua={NCSC}", id="leading-space"),
        pytest.param(f"v=TLSRPTv1 rua={NCSC}", id="missing-semicolon"),
        pytest.param(f"v=TLSRPTv1; rua = {NCSC}", id="space-around-equals"),
        pytest.param(f"v=TLSRPTv1; rua= {NCSC}", id="space-after-equals"),
        pytest.param(f"v=TLSRPTv1; RUA={NCSC}", id="rua-name-case-sensitive"),
        pytest.param(f"v=TLSRPTv1; rua={NCSC}; rua={NCSC}", id="two-rua-fields"),
        pytest.param(f"v=TLSRPTv1; rua={NCSC},", id="trailing-comma"),
        pytest.param(f"v=TLSRPTv1; rua={NCSC}!10m", id="dmarc-size-suffix"),
        pytest.param("v=TLSRPTv1; rua=tls-rua@mailcheck.service.ncsc.gov.uk", id="no-scheme"),
        pytest.param("v=TLSRPTv1; rua=mailto:nobody", id="mailto-without-domain"),
        pytest.param(f"v=TLSRPTv1;; rua={NCSC}", id="empty-field"),
        pytest.param(f"v=TLSRPTv1; rua={NCSC}; ext=a b", id="space-in-extension-value"),
        pytest.param(f"v=TLSRPTv1; rua={NCSC}; ext=\x1b", id="control-in-extension"),
        pytest.param(f"v=TLSRPTv1; rua={NCSC}; -ext=1", id="bad-extension-name"),
        pytest.param(f"v=TLSRPTv1; rua={NCSC}; {'e' * 33}=1", id="extension-name-too-long"),
        pytest.param(f"v=TLSRPTv1; rua={NCSC}; ext=", id="empty-extension-value"),
    ],
)
def test_invalid_tlsrpt(text: str) -> None:
    with pytest.raises(TlsRptSyntaxError):
        parse_tlsrpt(text)


@pytest.mark.parametrize(
    ("text", "record_id", "extensions"),
    [
        pytest.param("v=STSv1; id=20240101T000000", "20240101T000000", (), id="minimal"),
        pytest.param("v=STSv1;id=1;", "1", (), id="tight-trailing-semi"),
        pytest.param("v=STSv1 ;\tid=" + "a" * 32 + " ; ", "a" * 32, (), id="id-32"),
        pytest.param("v=STSv1; ext_1=x; id=abc", "abc", (("ext_1", "x"),), id="extension-first"),
        pytest.param(
            "v=STSv1; id=abc; ID=other",
            "abc",
            (("ID", "other"),),
            id="upper-case-id-is-an-extension",
        ),
    ],
)
def test_valid_mtasts(text: str, record_id: str, extensions: tuple[tuple[str, str], ...]) -> None:
    record = parse_mtasts_record(text)
    assert (record.id, record.extensions) == (record_id, extensions)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("v=STSv1", id="no-id"),
        pytest.param("v=STSv1;", id="nothing-after-version"),
        pytest.param("v=STSv1; ID=abc", id="id-name-case-sensitive"),
        pytest.param("v=stsv1; id=abc", id="version-case-sensitive"),
        pytest.param("v=STSv1; id=" + "a" * 33, id="id-33"),
        pytest.param("v=STSv1; id=2024-01-01", id="id-with-dashes"),
        pytest.param("v=STSv1; id=", id="empty-id"),
        pytest.param("v=STSv1; id=\u0661\u0662", id="id-non-ascii-digits"),
        pytest.param("v=STSv1; id=a; id=b", id="two-ids"),
        pytest.param("v=STSv1; id = abc", id="space-around-equals"),
        pytest.param("v=STSv1 id=abc", id="missing-semicolon"),
        pytest.param("v=STSv1;; id=abc", id="empty-field"),
        pytest.param("v=STSv1; id=abc; x", id="field-without-value"),
    ],
)
def test_invalid_mtasts(text: str) -> None:
    with pytest.raises(MtaStsSyntaxError):
        parse_mtasts_record(text)


def test_record_selection_is_case_sensitive_and_joins_strings() -> None:
    answer = txt("_mta-sts.example-dept.gov.uk", "v=STSv1; id=1", "v=stsv1; id=2", "v=STSv10")
    assert mtasts_records(answer) == ("v=STSv1; id=1",)
    two_strings = DnsResult(
        "_smtp._tls.example-dept.gov.uk",
        "TXT",
        "NOERROR",
        ('"v=TLSRPTv1; " "rua=mailto:a@b.example"', '"v=TLSRPTv10"'),
        300,
    )
    assert tlsrpt_records(two_strings) == ("v=TLSRPTv1; rua=mailto:a@b.example",)


_FIELDS = st.lists(
    st.tuples(
        st.sampled_from(["id", "rua", "ID", "ext", "x.y-z", ""]),
        st.one_of(
            st.sampled_from(["abc", NCSC, f"{NCSC},https://r.example/", "a b", ""]),
            st.text(max_size=12),
        ),
    ),
    max_size=4,
)


def _build(version: str) -> st.SearchStrategy[str]:
    return st.builds(
        lambda fields, sep, tail: version + "".join(f"{sep}{k}={v}" for k, v in fields) + tail,
        _FIELDS,
        st.sampled_from([";", "; ", " ;\t", ";;"]),
        st.sampled_from(["", ";", " ; "]),
    )


@given(st.one_of(st.text(), _build("v=TLSRPTv1")))
def test_tlsrpt_parser_raises_only_its_own_error(text: str) -> None:
    try:
        parse_tlsrpt(text)
    except TlsRptSyntaxError:
        pass


@given(st.one_of(st.text(), _build("v=STSv1")))
def test_mtasts_parser_raises_only_its_own_error(text: str) -> None:
    try:
        parse_mtasts_record(text)
    except MtaStsSyntaxError:
        pass
