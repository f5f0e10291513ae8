"""The DMARC record parser (RFC 7489 / RFC 9989) and organisational domains: tables and fuzzing."""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_govmail.records.dmarc import (
    DmarcSyntaxError,
    authorisation_name,
    is_dmarc_record,
    needs_authorisation,
    organisational_domain,
    parse_dmarc,
    parse_report_uri,
    salvage_dmarc,
)

NCSC = "mailto:dmarc-rua@dmarc.service.gov.uk"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("v=DMARC1; p=reject", {"p": "reject"}, id="minimal"),
        pytest.param("v=DMARC1;p=quarantine;", {"p": "quarantine"}, id="no-spaces-trailing-semi"),
        pytest.param("v = DMARC1 ;\tp = none ; ", {"p": "none"}, id="wsp-around-separators"),
        pytest.param("v=DMARC1", {"p": None}, id="version-only"),
        pytest.param(
            "v=DMARC1; p=Reject; SP=QUARANTINE",
            {"p": "reject", "sp": "quarantine"},
            id="keyword-values-case-insensitive",
        ),
        pytest.param("V=DMARC1; p=reject", {"p": "reject"}, id="v-tag-name-case-insensitive"),
        pytest.param(
            "v=DMARC1; p=reject; sp=none; np=quarantine",
            {"sp": "none", "np": "quarantine"},
            id="sp-np",
        ),
        pytest.param(
            "v=DMARC1; p=reject; adkim=s; aspf=r", {"adkim": "s", "aspf": "r"}, id="alignment"
        ),
        pytest.param("v=DMARC1; p=reject; pct=0", {"pct": 0}, id="pct-0"),
        pytest.param("v=DMARC1; p=reject; pct=100", {"pct": 100}, id="pct-100"),
        pytest.param("v=DMARC1; p=reject; ri=4294967295", {"ri": 4294967295}, id="ri-max-uint32"),
        pytest.param("v=DMARC1; p=reject; rf=afrf:iodef", {"rf": ("afrf", "iodef")}, id="rf"),
        pytest.param(
            "v=DMARC1; p=reject; ruf=mailto:a@example.org; fo=0 : d:s",
            {"fo": ("0", "d", "s")},
            id="fo-list",
        ),
        pytest.param("v=DMARC1; p=reject; psd=y; t=y", {"psd": "y", "t": "y"}, id="rfc9989-psd-t"),
        pytest.param(
            "v=DMARC1; p=reject; psd=u; t=n", {"psd": "u", "t": "n"}, id="rfc9989-psd-u-t-n"
        ),
        pytest.param(
            "v=DMARC1; p=reject; future=anything at all",
            {"unknown": (("future", "anything at all"),)},
            id="unknown-tag-kept",
        ),
    ],
)
def test_valid_records(text: str, expected: dict[str, object]) -> None:
    record = parse_dmarc(text)
    for attribute, value in expected.items():
        assert getattr(record, attribute) == value
    assert record.text == text
    assert record.tags[0] == ("v", "DMARC1")


@pytest.mark.parametrize(
    ("text", "code", "tag"),
    [
        pytest.param("v=DMARC2; p=reject", "dmarc.syntax.version", "v", id="wrong-version"),
        pytest.param(
            "v=dmarc1; p=reject", "dmarc.syntax.version", "v", id="version-value-case-sensitive"
        ),
        pytest.param(" v=DMARC1; p=reject", "dmarc.syntax.version", "v", id="leading-space"),
        pytest.param("p=reject; v=DMARC1", "dmarc.syntax.version", "v", id="v-not-first"),
        pytest.param("v=DMARC1 p=reject", "dmarc.syntax.version", "v", id="missing-semicolon"),
        pytest.param("", "dmarc.syntax.version", "v", id="empty"),
        pytest.param("v=DMARC1; p=reject; p=none", "dmarc.syntax.duplicate", "p", id="duplicate-p"),
        pytest.param(
            "v=DMARC1; p=reject; P=reject",
            "dmarc.syntax.duplicate",
            "p",
            id="duplicate-differing-case",
        ),
        pytest.param(
            "v=DMARC1; v=DMARC1; p=reject", "dmarc.syntax.duplicate", "v", id="duplicate-v"
        ),
        pytest.param(
            "v=DMARC1; p=reject; foo=1; foo=2",
            "dmarc.syntax.duplicate",
            "foo",
            id="duplicate-unknown",
        ),
        pytest.param("v=DMARC1; p=rejected", "dmarc.syntax.value", "p", id="bad-p"),
        pytest.param("v=DMARC1; p=reject; sp=allow", "dmarc.syntax.value", "sp", id="bad-sp"),
        pytest.param("v=DMARC1; p=reject; np=", "dmarc.syntax.value", "np", id="empty-np"),
        pytest.param("v=DMARC1; p=reject; adkim=x", "dmarc.syntax.value", "adkim", id="bad-adkim"),
        pytest.param("v=DMARC1; p=reject; pct=101", "dmarc.syntax.value", "pct", id="pct-101"),
        pytest.param("v=DMARC1; p=reject; pct=-1", "dmarc.syntax.value", "pct", id="pct-negative"),
        pytest.param("v=DMARC1; p=reject; pct=5.5", "dmarc.syntax.value", "pct", id="pct-fraction"),
        pytest.param(
            "v=DMARC1; p=reject; pct=\u0665", "dmarc.syntax.value", "pct", id="pct-arabic-digit"
        ),
        pytest.param(
            "v=DMARC1; p=reject; ri=4294967296", "dmarc.syntax.value", "ri", id="ri-over-uint32"
        ),
        pytest.param(
            "v=DMARC1; p=reject; ri=" + "9" * 5000, "dmarc.syntax.value", "ri", id="ri-huge"
        ),
        pytest.param("v=DMARC1; p=reject; fo=2", "dmarc.syntax.value", "fo", id="bad-fo"),
        pytest.param("v=DMARC1; p=reject; fo=0::1", "dmarc.syntax.value", "fo", id="fo-empty-item"),
        pytest.param("v=DMARC1; p=reject; rf=xml", "dmarc.syntax.value", "rf", id="bad-rf"),
        pytest.param("v=DMARC1; p=reject; psd=x", "dmarc.syntax.value", "psd", id="bad-psd"),
        pytest.param("v=DMARC1; p=reject; t=yes", "dmarc.syntax.value", "t", id="bad-t"),
        pytest.param(
            "v=DMARC1; p=reject; rua=dmarc@example.org",
            "dmarc.syntax.uri",
            "rua",
            id="rua-without-scheme",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=mailto:a@b.example,",
            "dmarc.syntax.uri",
            "rua",
            id="rua-trailing-comma",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=mailto:a@b.example!",
            "dmarc.syntax.uri",
            "rua",
            id="rua-empty-size",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=mailto:a@b.example!10x",
            "dmarc.syntax.uri",
            "rua",
            id="rua-bad-size-unit",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=mailto:a@b.example!1!2",
            "dmarc.syntax.uri",
            "rua",
            id="rua-two-bangs",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=mailto:nobody",
            "dmarc.syntax.uri",
            "rua",
            id="mailto-without-domain",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=mailto:a@-bad-.example",
            "dmarc.syntax.uri",
            "rua",
            id="mailto-bad-domain",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=mailto:a b@c.example",
            "dmarc.syntax.uri",
            "rua",
            id="uri-with-space",
        ),
        pytest.param(
            "v=DMARC1; p=reject; ruf=mailto:<script>@x.example",
            "dmarc.syntax.uri",
            "ruf",
            id="uri-with-angle-brackets",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=https://[",
            "dmarc.syntax.uri",
            "rua",
            id="https-unclosed-ip-literal",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=https://[::::]/x",
            "dmarc.syntax.uri",
            "rua",
            id="https-bad-ipv6",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=https://r.example/x#one#two",
            "dmarc.syntax.uri",
            "rua",
            id="https-two-fragments",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=https://r.example/[x]",
            "dmarc.syntax.uri",
            "rua",
            id="https-bracket-in-path",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=https://r.example]/x",
            "dmarc.syntax.uri",
            "rua",
            id="https-bracket-in-host",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=https://[::1]x/",
            "dmarc.syntax.uri",
            "rua",
            id="https-text-after-ip-literal",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=https://r.example:8a/x",
            "dmarc.syntax.uri",
            "rua",
            id="https-bad-port",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=https:///x", "dmarc.syntax.uri", "rua", id="https-empty-host"
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=https:r.example/x",
            "dmarc.syntax.uri",
            "rua",
            id="https-without-authority",
        ),
        pytest.param(
            "v=DMARC1; p=reject; rua=mailto:a@b.example?x=[1]",
            "dmarc.syntax.uri",
            "rua",
            id="mailto-bracket-in-query",
        ),
        pytest.param("v=DMARC1;; p=reject", "dmarc.syntax.tag", None, id="empty-tag"),
        pytest.param("v=DMARC1; p=reject;;", "dmarc.syntax.tag", None, id="double-trailing-semi"),
        pytest.param("v=DMARC1; reject", "dmarc.syntax.tag", None, id="no-equals"),
        pytest.param("v=DMARC1; 1p=reject", "dmarc.syntax.tag", None, id="bad-tag-name"),
        pytest.param(
            "v=DMARC1; p=reject; x=caf\u00e9", "dmarc.syntax.value", "x", id="non-ascii-value"
        ),
        pytest.param("v=DMARC1; p=reject\n", "dmarc.syntax.value", "p", id="newline"),
        pytest.param(
            "v=DMARC1; p=reject; x=\x1b[31m", "dmarc.syntax.value", "x", id="control-character"
        ),
    ],
)
def test_invalid_records(text: str, code: str, tag: str | None) -> None:
    with pytest.raises(DmarcSyntaxError) as info:
        parse_dmarc(text)
    assert info.value.code == code
    assert info.value.tag == tag


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("v=DMARC1; rua=" + NCSC, "p is absent", id="no-p"),
        pytest.param(
            "v=DMARC1; rua=" + NCSC + "; p=reject", "p is not the tag after v", id="p-not-second"
        ),
        pytest.param("v=DMARC1; p=reject; pct=50", "pct was removed by RFC 9989", id="pct"),
        pytest.param("v=DMARC1; p=reject; ri=86400", "ri was removed", id="ri"),
        pytest.param("v=DMARC1; p=reject; rf=afrf", "rf was removed", id="rf"),
        pytest.param(
            "v=DMARC1; p=reject; rua=" + NCSC + "!10m", "'!size' limit is obsolete", id="size"
        ),
        pytest.param(
            "v=DMARC1; p=reject; ruf=mailto:a@b.example; fo=0:1",
            "not both 0 and 1",
            id="fo-0-and-1",
        ),
        pytest.param("v=DMARC1; p=reject; fo=1", "fo has no effect without ruf", id="fo-no-ruf"),
        pytest.param("v=DMARC1; P=reject", "not lower case", id="upper-case-tag"),
        pytest.param("v=DMARC1; p=reject; zz=1", "unknown tag 'zz' is ignored", id="unknown"),
    ],
)
def test_notes_for_what_the_rfcs_disagree_on(text: str, fragment: str) -> None:
    notes = parse_dmarc(text).notes
    assert any(fragment in note for note in notes), notes


def test_clean_record_has_no_notes() -> None:
    assert parse_dmarc(f"v=DMARC1; p=reject; sp=reject; rua={NCSC}").notes == ()


@pytest.mark.parametrize(
    ("text", "scheme", "address", "host", "size"),
    [
        pytest.param(
            "mailto:dmarc-rua@dmarc.service.gov.uk",
            "mailto",
            "dmarc-rua@dmarc.service.gov.uk",
            "dmarc.service.gov.uk",
            None,
            id="mailto",
        ),
        pytest.param(
            "MAILTO:Reports@Example.ORG!10m",
            "mailto",
            "Reports@Example.ORG",
            "example.org",
            10 << 20,
            id="scheme-case-and-size-m",
        ),
        pytest.param(
            "mailto:a@b.example!500", "mailto", "a@b.example", "b.example", 500, id="size-bytes"
        ),
        pytest.param(
            "mailto:a@b.example!2K", "mailto", "a@b.example", "b.example", 2048, id="size-k-upper"
        ),
        pytest.param(
            "mailto:a@b.example!1t", "mailto", "a@b.example", "b.example", 1 << 40, id="size-t"
        ),
        pytest.param(
            "mailto:dmarc%2Drua%40c.example",
            "mailto",
            "dmarc-rua@c.example",
            "c.example",
            None,
            id="percent-encoded",
        ),
        pytest.param(
            "mailto:a@b.example?subject=dmarc",
            "mailto",
            "a@b.example",
            "b.example",
            None,
            id="hfields-dropped",
        ),
        pytest.param(
            "mailto:a@b.example.", "mailto", "a@b.example.", "b.example", None, id="trailing-dot"
        ),
        pytest.param(
            "https://user@Reports.Example:8443/dmarc?x=1",
            "https",
            "//user@Reports.Example:8443/dmarc?x=1",
            "reports.example",
            None,
            id="https",
        ),
        pytest.param("urn:x-dmarc:1", "urn", "x-dmarc:1", None, None, id="no-authority"),
        pytest.param(
            "https://[2001:db8::1]:8443/dmarc#part",
            "https",
            "//[2001:db8::1]:8443/dmarc#part",
            "[2001:db8::1]",
            None,
            id="https-ipv6-literal",
        ),
        pytest.param(
            "https://[v1.fe]/x", "https", "//[v1.fe]/x", "[v1.fe]", None, id="https-ipvfuture"
        ),
    ],
)
def test_report_uris(
    text: str, scheme: str, address: str, host: str | None, size: int | None
) -> None:
    uri = parse_report_uri(text)
    assert (uri.scheme, uri.address, uri.host, uri.size) == (scheme, address, host, size)
    assert uri.text == text


def test_rua_list_with_spaces_keeps_order_and_size() -> None:
    record = parse_dmarc(f"v=DMARC1; p=none; rua={NCSC}!10m , mailto:b@x.example")
    assert [u.uri for u in record.rua] == [NCSC, "mailto:b@x.example"]
    assert record.rua[0].size_text == "10m"
    assert record.rua[0].same_mailbox("dmarc-rua@DMARC.SERVICE.GOV.UK")
    assert not record.rua[0].same_mailbox("DMARC-RUA@dmarc.service.gov.uk")


def test_policy_defaults_are_derived_not_stored() -> None:
    record = parse_dmarc("v=DMARC1; p=quarantine")
    assert (record.sp, record.policy, record.subdomain_policy) == (None, "quarantine", "quarantine")
    assert parse_dmarc("v=DMARC1").policy == "none"
    assert parse_dmarc("v=DMARC1; p=reject; sp=none").subdomain_policy == "none"


def test_with_changes_keeps_the_users_tags() -> None:
    record = parse_dmarc(f"v=DMARC1; rua={NCSC}; pct=50; fo=1; ruf=mailto:f@x.example")
    assert record.with_changes({"p": "reject", "sp": "reject"}, drop=["pct"]) == (
        f"v=DMARC1; p=reject; rua={NCSC}; fo=1; ruf=mailto:f@x.example; sp=reject"
    )


def test_salvage_keeps_valid_tags_and_first_duplicates() -> None:
    record = salvage_dmarc("v=DMARC1; p=none; p=reject; pct=500; rua=mailto:a@b.example;; x")
    assert record.tags == (("v", "DMARC1"), ("p", "none"), ("rua", "mailto:a@b.example"))
    assert salvage_dmarc("not dmarc").tags == (("v", "DMARC1"),)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v=DMARC1", True),
        ("v=DMARC1;", True),
        ("v=DMARC1 ; p=none", True),
        ("V = DMARC1;", True),
        ("v=DMARC10", False),
        ("v=dmarc1", False),
        (" v=DMARC1", False),
        ("v=DMARC1 p=none", False),
        ("v=spf1 -all", False),
    ],
)
def test_is_dmarc_record(text: str, expected: bool) -> None:
    assert is_dmarc_record(text) is expected


@pytest.mark.parametrize(
    ("name", "org"),
    [
        ("example-dept.gov.uk", "example-dept.gov.uk"),
        ("mail.Example-Dept.GOV.UK.", "example-dept.gov.uk"),
        ("a.b.c.example-dept.gov.uk", "example-dept.gov.uk"),
        ("gov.uk", "gov.uk"),  # a public suffix is its own answer
        ("dmarc.service.gov.uk", "dmarc.service.gov.uk"),  # service.gov.uk: PSL private section
        ("x.dmarc-rua.mailcheck.service.ncsc.gov.uk", "ncsc.gov.uk"),
        ("www.example.co.uk", "example.co.uk"),
        ("b.a.sch.uk", "b.a.sch.uk"),  # *.sch.uk wildcard rule
        ("localhost", "localhost"),
    ],
)
def test_organisational_domain(name: str, org: str) -> None:
    assert organisational_domain(name) == org


def test_external_authorisation_names() -> None:
    assert not needs_authorisation("example-dept.gov.uk", "reports.example-dept.gov.uk")
    assert needs_authorisation("sub.example-dept.gov.uk", "dmarc.service.gov.uk")
    assert needs_authorisation("example-dept.gov.uk", "other-dept.gov.uk")
    assert authorisation_name("Example-Dept.gov.uk.", "dmarc.service.gov.uk") == (
        "example-dept.gov.uk._report._dmarc.dmarc.service.gov.uk"
    )


_TAGS = st.sampled_from(
    ["p", "sp", "np", "adkim", "aspf", "fo", "pct", "psd", "rf", "ri", "rua", "ruf", "t", "x", "P"]
)
_VALUES = st.one_of(
    st.sampled_from(
        [
            "none",
            "reject",
            "r",
            "s",
            "y",
            "n",
            "u",
            "0:1:d",
            "100",
            "-1",
            "afrf",
            NCSC,
            f"{NCSC}!10m",
            "mailto:a@b",
            "https://x/y",
            "",
        ]
    ),
    st.text(max_size=20),
)
_RECORDS = st.one_of(
    st.text(),
    st.builds(
        lambda pairs, sep, tail: "v=DMARC1" + "".join(f"{sep}{k}={v}" for k, v in pairs) + tail,
        st.lists(st.tuples(_TAGS, _VALUES), max_size=6),
        st.sampled_from([";", "; ", " ;\t", ";;"]),
        st.sampled_from(["", ";", " ; ", ";;"]),
    ),
)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("v=DMARC1; p=" + "x" * 16000, id="long-value"),
        pytest.param("v=DMARC1; " + "p" * 16000 + "=1; " + "p" * 16000 + "=2", id="long-name"),
        pytest.param("v=DMARC1; rua=mailto:" + "a" * 16000, id="long-uri"),
        pytest.param("v=DMARC1; rua=mailto:a@b.example!" + "9" * 16000, id="long-size"),
    ],
)
def test_error_messages_are_bounded(text: str) -> None:
    with pytest.raises(DmarcSyntaxError) as info:
        parse_dmarc(text)
    assert len(str(info.value)) < 400


def test_notes_are_bounded() -> None:
    assert all(len(n) < 400 for n in parse_dmarc("v=DMARC1; P" + "x" * 16000 + "=1").notes)


@given(_RECORDS)
def test_parser_raises_only_its_own_error(text: str) -> None:
    try:
        record = parse_dmarc(text)
    except DmarcSyntaxError as exc:
        assert len(str(exc)) < 400
        return
    assert record.text == text
    assert parse_dmarc(record.with_changes()).tags == record.tags
    assert salvage_dmarc(text).tags == record.tags


@given(st.text())
def test_salvage_never_raises(text: str) -> None:
    salvage_dmarc(text)


_URI_PIECES = st.lists(
    st.sampled_from(["[", "]", "#", "?", "/", ":", "@", "::1", "v1.x", "a", "8", "%41", "."]),
    max_size=12,
)


@given(_URI_PIECES)
def test_accepted_https_uris_split_by_rfc_3986(pieces: list[str]) -> None:
    """Whatever https URI the parser accepts, the standard library splits it too (no unclosed
    or misplaced IP literal), with a host and at most one '#' (RFC 3986 section 3)."""
    text = "https://" + "".join(pieces)
    try:
        uri = parse_report_uri(text)
    except DmarcSyntaxError:
        return
    parts = urllib.parse.urlsplit(uri.uri)
    assert parts.hostname
    assert "#" not in parts.fragment
    assert "[" not in parts.path + parts.query + parts.fragment
