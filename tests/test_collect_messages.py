"""Reading sample messages (``--govmail-eml``) from local files, and their JSON form."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from pytest_govmail.collect.messages import (
    MAX_SIGNATURE_FIELDS,
    from_domain,
    normalise_mail_domain,
    parse_message,
    read_message,
    read_messages,
)
from pytest_govmail.model.dkim import MAX_MESSAGE_BYTES, SampleMessage, SignatureTags

PLAIN = (
    b"From: Example Department <noreply@Example-Dept.GOV.UK>\r\n"
    b"To: someone@elsewhere.example\r\n"
    b"Subject: A notice\r\n"
    b"Date: Mon, 01 Jan 2024 09:00:00 +0000\r\n"
    b"\r\n"
    b"Hello.\r\n"
)


@pytest.fixture(scope="module")
def private_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def signed(message: bytes, pem: bytes, selector: bytes, domain: bytes) -> bytes:
    return bytes(dkim.sign(message, selector, domain, pem)) + message


def test_good_message_with_two_signatures(tmp_path: Path, private_pem: bytes) -> None:
    raw = signed(PLAIN, private_pem, b"sel2024", b"example-dept.gov.uk")
    raw = signed(raw, private_pem, b"s1", b"sendgrid.example")
    path = tmp_path / "good.eml"
    path.write_bytes(raw)
    message = read_message(path)
    assert message.error is None
    assert message.source == str(path)
    assert message.raw == raw and message.size == len(raw)
    assert message.from_domain == "example-dept.gov.uk"
    assert message.from_header == "Example Department <noreply@Example-Dept.GOV.UK>"
    # Header order: the signature added last is first, as dkimpy indexes them.
    first, second = message.dkim_signatures
    assert (first.domain, first.selector, first.algorithm) == (
        "sendgrid.example",
        "s1",
        "rsa-sha256",
    )
    assert (second.domain, second.selector) == ("example-dept.gov.uk", "sel2024")
    assert second.signed_headers[:3] == ("from", "to", "subject")
    assert first.error is None and second.error is None


def test_lf_line_endings_and_no_signature(tmp_path: Path) -> None:
    path = tmp_path / "lf.eml"
    path.write_bytes(PLAIN.replace(b"\r\n", b"\n"))
    message = read_message(path)
    assert message.error is None
    assert message.from_domain == "example-dept.gov.uk"
    assert message.dkim_signatures == ()


def test_huge_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.eml"
    with open(path, "wb") as handle:
        handle.truncate(MAX_MESSAGE_BYTES + 1)  # sparse: nothing is written
    message = read_message(path)
    assert message.raw == b""
    assert message.size == MAX_MESSAGE_BYTES + 1
    assert message.error is not None
    assert f"{MAX_MESSAGE_BYTES + 1:,} bytes" in message.error and "2 MiB" in message.error


def test_message_at_the_limit_is_read(tmp_path: Path) -> None:
    body = b"x" * 998 + b"\r\n"
    raw = PLAIN + body * ((MAX_MESSAGE_BYTES - len(PLAIN)) // len(body))
    raw += b"y" * (MAX_MESSAGE_BYTES - len(raw))
    assert len(raw) == MAX_MESSAGE_BYTES
    path = tmp_path / "big.eml"
    path.write_bytes(raw)
    message = read_message(path)
    assert message.error is None and message.size == MAX_MESSAGE_BYTES


def test_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "image.eml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    message = read_message(path)
    assert message.error is not None and "not an RFC 5322 message" in message.error
    assert message.raw == b"" and message.from_domain is None


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", "no header fields"),
        (b"\r\nbody only\r\n", "no header fields"),
        (b" folded: first\r\n\r\n", "folded line"),
    ],
    ids=["empty", "no-header", "starts-folded"],
)
def test_no_header_section(tmp_path: Path, content: bytes, error: str) -> None:
    path = tmp_path / "empty.eml"
    path.write_bytes(content)
    message = read_message(path)
    assert message.error is not None and error in message.error


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.eml"
    message = read_message(path)
    assert message.error == f"cannot read {path}: No such file or directory"
    assert message.raw == b"" and message.size == 0


def test_directory(tmp_path: Path) -> None:
    message = read_message(tmp_path)
    assert message.error is not None and message.error.startswith(f"cannot read {tmp_path}")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path) -> None:  # pragma: no cover - CI runs as root
    path = tmp_path / "secret.eml"
    path.write_bytes(PLAIN)
    path.chmod(0)
    assert "Permission denied" in (read_message(path).error or "")


def test_read_messages_keeps_order_and_reads_each_path_once(tmp_path: Path) -> None:
    a, b = tmp_path / "a.eml", tmp_path / "b.eml"
    a.write_bytes(PLAIN)
    b.write_bytes(PLAIN.replace(b"Example-Dept", b"other-dept"))
    messages = read_messages([b, a, b, tmp_path / "missing.eml"])
    assert [m.source for m in messages] == [str(b), str(a), str(tmp_path / "missing.eml")]
    assert [m.from_domain for m in messages] == [
        "other-dept.gov.uk",
        "example-dept.gov.uk",
        None,
    ]
    assert read_messages([]) == ()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("a@example.gov.uk", "example.gov.uk"),
        ('"Dept, Comms" <a@Example.GOV.UK>', "example.gov.uk"),
        ("a@example.gov.uk.", None),
        ("=?utf-8?q?D=C3=A9pt?= <a@example.gov.uk>", "example.gov.uk"),
        ("a@bücher.example", "xn--bcher-kva.example"),
        ("a@example.gov.uk, b@example.gov.uk", None),
        ("undisclosed-recipients:;", None),
        ("a@[192.0.2.1]", None),
        ("no address here", None),
        ("a@localhost", None),
        ("", None),
    ],
)
def test_from_domain(header: str, expected: str | None) -> None:
    assert from_domain(header) == expected


def test_no_single_from(tmp_path: Path) -> None:
    none = parse_message(b"To: x@y.example\r\n\r\nbody\r\n", "none.eml")
    assert none.error is None and none.from_domain is None and none.from_header is None
    two = parse_message(b"From: a@one.example\r\nFrom: b@two.example\r\n\r\n", "two.eml")
    assert two.from_domain is None
    assert two.from_header == "a@one.example | b@two.example"


def test_folded_from_and_broken_signature() -> None:
    raw = (
        b"From: Example\r\n <noreply@example.gov.uk>\r\n"
        b"DKIM-Signature: v=1; a=rsa-sha256;; d=example.gov.uk\r\n"
        b"DKIM-Signature: v=1; a=rsa-sha256; d=Example.gov.uk; s=Sel;\r\n h=from :\r\n  to\r\n"
        b"\r\nbody\r\n"
    )
    message = parse_message(raw, "folded.eml")
    assert message.from_domain == "example.gov.uk"
    broken, good = message.dkim_signatures
    assert broken.error is not None and broken.domain == ""
    assert (good.domain, good.selector, good.signed_headers) == (
        "Example.gov.uk",
        "Sel",
        ("from", "to"),
    )


def test_signature_fields_are_bounded() -> None:
    sig = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.gov.uk; s=s; h=from; bh=; b=\r\n"
    raw = b"From: a@example.gov.uk\r\n" + sig * (MAX_SIGNATURE_FIELDS + 5) + b"\r\n"
    assert len(parse_message(raw, "many.eml").dkim_signatures) == MAX_SIGNATURE_FIELDS


def test_parse_message_refuses_oversized_bytes() -> None:
    message = parse_message(b"x" * (MAX_MESSAGE_BYTES + 1), "big.eml")
    assert message.error is not None and message.raw == b""


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("Example.GOV.uk.", "example.gov.uk"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("-bad.example", None),
        ("a" * 64 + ".example", None),
        ("single", None),
        ("", None),
        ("exa mple.com", None),
    ],
)
def test_normalise_mail_domain(domain: str, expected: str | None) -> None:
    assert normalise_mail_domain(domain) == expected


@given(st.binary(max_size=2000))
def test_any_bytes_become_a_message_or_an_error(raw: bytes) -> None:
    message = parse_message(raw, "fuzz.eml")
    assert message.size == len(raw)
    if message.error is None:
        assert message.raw == raw
    else:
        assert message.raw == b"" and message.dkim_signatures == ()


# --- JSON --------------------------------------------------------------------------------------

_text = st.text(max_size=40)
_signatures = st.builds(
    SignatureTags,
    domain=_text,
    selector=_text,
    algorithm=_text,
    signed_headers=st.lists(_text, max_size=4).map(tuple),
    error=st.none() | _text,
)
_messages = st.builds(
    SampleMessage,
    source=_text,
    raw=st.binary(max_size=500),
    size=st.integers(min_value=0, max_value=10**9),
    from_domain=st.none() | _text,
    from_header=st.none() | _text,
    dkim_signatures=st.lists(_signatures, max_size=3).map(tuple),
    error=st.none() | _text,
)


@given(_messages)
def test_json_round_trip_is_exact(message: SampleMessage) -> None:
    text = json.dumps(message.to_json())
    assert SampleMessage.from_json(json.loads(text)) == message


def test_json_round_trip_of_a_read_message(tmp_path: Path, private_pem: bytes) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(signed(PLAIN, private_pem, b"sel", b"example-dept.gov.uk"))
    message = read_message(path)
    data = json.loads(json.dumps(message.to_json()))
    assert data["sha256"] == message.sha256
    assert SampleMessage.from_json(data) == message


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"sha256": "0" * 64}, ValueError),
        ({"raw_base64": "not base64!"}, ValueError),
        ({"raw_base64": 5}, TypeError),
        ({"size": -1}, ValueError),
        ({"size": True}, ValueError),
        ({"dkim_signatures": {}}, TypeError),
        ({"dkim_signatures": [{"d": 1, "s": "", "a": ""}]}, TypeError),
        ({"from_domain": 3}, TypeError),
        ({"source": None}, TypeError),
    ],
)
def test_json_refuses_malformed_data(change: dict[str, object], error: type[Exception]) -> None:
    data = SampleMessage("m.eml", raw=PLAIN, size=len(PLAIN)).to_json()
    data.update(change)
    with pytest.raises(error):
        SampleMessage.from_json(data)


def test_json_refuses_missing_fields_and_non_objects() -> None:
    with pytest.raises(KeyError):
        SampleMessage.from_json({"source": "m.eml"})
    with pytest.raises(TypeError):
        SampleMessage.from_json([])  # type: ignore[arg-type]
