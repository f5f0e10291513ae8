"""DKIM key records (RFC 6376 section 3.6.1, RFC 8301, RFC 8463): tables and properties."""

from __future__ import annotations

import base64
import functools
import secrets

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from pytest_govmail.records.dkim import (
    DkimKey,
    DkimKeyError,
    looks_like_key_record,
    parse_dkim_key,
)

SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
DER = serialization.Encoding.DER


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@functools.cache
def rsa_der(bits: int, pkcs1: bool = False) -> bytes:
    """A real RSA public key (generated) of ``bits`` >= 1024, as SPKI or PKCS#1 DER."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    fmt = serialization.PublicFormat.PKCS1 if pkcs1 else SPKI
    return key.public_bytes(DER, fmt)


def small_rsa_der(bits: int) -> bytes:
    """An RSA public key of ``bits`` bits (cryptography will not generate one under 1024)."""
    modulus = secrets.randbits(bits) | (1 << (bits - 1)) | 1
    return rsa.RSAPublicNumbers(65537, modulus).public_key().public_bytes(DER, SPKI)


@functools.cache
def ed_raw() -> bytes:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def der_sequence(*integers: int) -> bytes:
    """DER ``SEQUENCE { INTEGER ... }``: an RSAPublicKey with chosen numbers."""

    def length(n: int) -> bytes:
        if n < 0x80:
            return bytes([n])
        body = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return bytes([0x80 | len(body)]) + body

    def integer(value: int) -> bytes:
        body = value.to_bytes(value.bit_length() // 8 + 1, "big")
        return b"\x02" + length(len(body)) + body

    content = b"".join(integer(i) for i in integers)
    return b"\x30" + length(len(content)) + content


RSA2048 = b64(rsa_der(2048))
RSA1024 = b64(rsa_der(1024))
ED = b64(ed_raw())


@pytest.mark.parametrize(
    ("text", "key_type", "bits", "check"),
    [
        pytest.param(
            f"v=DKIM1; k=rsa; p={RSA2048}", "rsa", 2048, lambda k: k.version == "DKIM1", id="rsa"
        ),
        pytest.param(f"p={RSA1024}", "rsa", 1024, lambda k: k.version is None, id="p-only"),
        pytest.param(
            f"v=DKIM1; p={b64(rsa_der(1024, pkcs1=True))}", "rsa", 1024, None, id="pkcs1-der"
        ),
        pytest.param(f"v=DKIM1; p={b64(small_rsa_der(512))}", "rsa", 512, None, id="rsa-512"),
        pytest.param(f"v=DKIM1; k=ed25519; p={ED}", "ed25519", 256, None, id="ed25519"),
        pytest.param("v=DKIM1; p=", "rsa", None, lambda k: k.revoked, id="revoked"),
        pytest.param("v=DKIM1; k=ed25519; p=", "ed25519", None, lambda k: k.revoked, id="rev-ed"),
        pytest.param("p=", "rsa", None, lambda k: k.revoked, id="revoked-bare"),
        pytest.param(
            f"v=DKIM1; p={RSA2048[:100]} {RSA2048[100:200]}\t{RSA2048[200:]}",
            "rsa",
            2048,
            None,
            id="spaces-inside-p",
        ),
        pytest.param(
            f"  v = DKIM1 ;\tk = rsa ; p = {RSA1024} ;",
            "rsa",
            1024,
            None,
            id="spacing-trailing-sep",
        ),
        pytest.param(
            f"v=DKIM1; h=sha256; p={RSA1024}",
            "rsa",
            1024,
            lambda k: k.hashes == ("sha256",) and k.sha256_allowed and not k.allows("sha1"),
            id="h-sha256",
        ),
        pytest.param(
            f"v=DKIM1; h=sha1 : sha256; p={RSA1024}",
            "rsa",
            1024,
            lambda k: k.hashes == ("sha1", "sha256") and k.sha256_allowed,
            id="h-both",
        ),
        pytest.param(
            f"v=DKIM1; h=sha1; p={RSA1024}",
            "rsa",
            1024,
            lambda k: not k.sha256_allowed,
            id="h-sha1",
        ),
        pytest.param(
            f"v=DKIM1; h=sha512; p={RSA1024}",
            "rsa",
            1024,
            lambda k: k.hashes == ("sha512",) and not k.sha256_allowed,
            id="h-unknown-kept",
        ),
        pytest.param(
            f"v=DKIM1; t=y:s; p={RSA1024}",
            "rsa",
            1024,
            lambda k: k.testing and k.strict_identity,
            id="flags",
        ),
        pytest.param(
            f"v=DKIM1; t=x-future; p={RSA1024}",
            "rsa",
            1024,
            lambda k: not k.testing and k.flags == ("x-future",),
            id="unknown-flag",
        ),
        pytest.param(
            f"v=DKIM1; s=email; p={RSA1024}",
            "rsa",
            1024,
            lambda k: k.for_email and k.services == ("email",),
            id="s-email",
        ),
        pytest.param(
            f"v=DKIM1; s=tlsrpt; p={RSA1024}", "rsa", 1024, lambda k: not k.for_email, id="s-other"
        ),
        pytest.param(f"v=DKIM1; s=*; p={RSA1024}", "rsa", 1024, lambda k: k.for_email, id="s-star"),
        pytest.param(
            f"v=DKIM1; n=rotated 2024-01 by IT; g=*; x_y=z; p={RSA1024}",
            "rsa",
            1024,
            lambda k: (
                k.notes == "rotated 2024-01 by IT" and k.unknown == (("g", "*"), ("x_y", "z"))
            ),
            id="notes-and-unknown-tags",
        ),
        pytest.param(
            f"K=ed25519; p={RSA1024}",
            "rsa",
            1024,
            lambda k: k.unknown == (("K", "ed25519"),),
            id="tag-names-case-sensitive",
        ),
    ],
)
def test_valid_key_records(
    text: str, key_type: str, bits: int | None, check: object | None
) -> None:
    key = parse_dkim_key(text)
    assert key.key_type == key_type
    assert key.bits == bits
    assert key.text == text
    if check is not None:
        assert callable(check) and check(key), key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "no p= tag", id="empty"),
        pytest.param("v=DKIM1", "no p= tag", id="no-p"),
        pytest.param("v=DKIM1; P=", "no p= tag", id="P-upper-is-unknown"),
        pytest.param(f"k=rsa; v=DKIM1; p={RSA1024}", "first tag", id="v-not-first"),
        pytest.param(f"v=DKIM2; p={RSA1024}", "exactly DKIM1", id="v-other"),
        pytest.param(f"v=dkim1; p={RSA1024}", "exactly DKIM1", id="v-case"),
        pytest.param(f"v=DKIM1; k=dsa; p={RSA1024}", "unknown key type", id="k-unknown"),
        pytest.param(f"v=DKIM1; k=RSA; p={RSA1024}", "unknown key type", id="k-case"),
        pytest.param("v=DKIM1; p=abc", "not valid base64", id="p-length"),
        pytest.param("v=DKIM1; p=@@@@", "not valid base64", id="p-chars"),
        pytest.param(f'v=DKIM1; p="{RSA1024}"', "not valid base64", id="p-quoted"),
        pytest.param("v=DKIM1; p=AAAA", "not decode to an RSA public key", id="p-not-a-key"),
        pytest.param(f"v=DKIM1; p={RSA1024[:-7]}", "not valid base64", id="p-truncated-unpadded"),
        pytest.param(
            f"v=DKIM1; p={b64(rsa_der(1024)[:-20])}",
            "not decode to an RSA public key",
            id="p-truncated-der",
        ),
        pytest.param(
            f"v=DKIM1; p={b64(der_sequence((1 << 1023) + 1, 4))}",
            "usable RSA key",
            id="rsa-even-exponent",
        ),
        pytest.param(
            "v=DKIM1; p="
            + b64(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(DER, SPKI)),
            "RSA public key",
            id="ec-key-as-rsa",
        ),
        pytest.param(f"v=DKIM1; k=ed25519; p={RSA1024}", "32-byte", id="ed25519-wrong-size"),
        pytest.param(
            "v=DKIM1; k=ed25519; p="
            + b64(ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(DER, SPKI)),
            "looks like a SubjectPublicKeyInfo",
            id="ed25519-as-spki",
        ),
        pytest.param("v=DKIM1; p=; p=", "more than once", id="duplicate"),
        pytest.param("v=DKIM1;; p=", "empty tag", id="empty-tag"),
        pytest.param("v=DKIM1; ; p=", "empty tag", id="blank-tag"),
        pytest.param("v=DKIM1; p", "malformed tag", id="no-equals"),
        pytest.param("v=DKIM1; 1x=y; p=", "1x", id="tag-digit"),
        pytest.param("v=DKIM1; a-b=c; p=", "not a tag name", id="tag-hyphen"),
        pytest.param("v=DKIM1; a b=c; p=", "not a tag name", id="tag-space"),
        pytest.param("v=DKIM1; p=\x00", "U+0000", id="nul"),
        pytest.param("v=DKIM1;\r\n p=", "U+000D", id="crlf"),
        pytest.param("v=DKIM1; n=café; p=", "U+00E9", id="non-ascii"),
        pytest.param("v=DKIM1; h=; p=", "h=", id="h-empty"),
        pytest.param("v=DKIM1; h=sha-; p=", "h=", id="h-bad-word"),
        pytest.param("v=DKIM1; h=sha1::sha256; p=", "h=", id="h-empty-entry"),
        pytest.param("v=DKIM1; s=email:; p=", "s=", id="s-trailing-colon"),
        pytest.param("v=DKIM1; t=*; p=", "t=", id="t-star"),
    ],
)
def test_invalid_key_records(text: str, message: str) -> None:
    with pytest.raises(DkimKeyError) as info:
        parse_dkim_key(text)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_describe() -> None:
    assert parse_dkim_key(f"p={RSA2048}").describe() == "rsa 2048-bit key"
    assert parse_dkim_key(f"k=ed25519; p={ED}").describe() == "ed25519 key"
    assert parse_dkim_key("p=").describe() == "revoked key (empty p=)"
    flagged = parse_dkim_key(f"h=sha1; t=y; s=email; p={RSA1024}")
    assert flagged.describe() == "rsa 1024-bit key (h=sha1, t=y, s=email)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v=DKIM1; p=", True),
        (" V = dkim1 ; k=rsa", True),
        ("k=rsa; p=", True),
        ("p=MIIB", True),
        ("v=DKIM1", True),
        ("v=spf1 -all", False),
        ("google-site-verification=abc123", False),
        ("MS=ms12345678", False),
        ("", False),
        ("hello world", False),
    ],
)
def test_looks_like_key_record(text: str, expected: bool) -> None:
    assert looks_like_key_record(text) is expected


@given(st.text(max_size=300))
def test_any_text_raises_only_dkim_key_error(text: str) -> None:
    try:
        key = parse_dkim_key(text)
    except DkimKeyError:
        return
    assert isinstance(key, DkimKey)


_TAGGY = st.text(alphabet="vkphstnV=;: \tDKIM1rsaed25519AQAB/+=xy*-_", max_size=120)


@given(_TAGGY)
def test_tag_like_text_raises_only_dkim_key_error(text: str) -> None:
    try:
        key = parse_dkim_key(text)
    except DkimKeyError:
        return
    assert key.key_type in ("rsa", "ed25519")
    assert key.revoked or key.bits is not None


@given(st.binary(max_size=200), st.sampled_from(["rsa", "ed25519"]))
def test_any_key_bytes_raise_only_dkim_key_error(data: bytes, key_type: str) -> None:
    try:
        key = parse_dkim_key(f"v=DKIM1; k={key_type}; p={b64(data)}")
    except DkimKeyError:
        return
    assert key.public_key == data


_WORD = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)


@given(
    hashes=st.none() | st.lists(st.sampled_from(["sha1", "sha256", "sha512"]), min_size=1),
    flags=st.lists(st.sampled_from(["y", "s", "z"]), max_size=3),
    services=st.none() | st.lists(st.sampled_from(["email", "*", "tlsrpt"]), min_size=1),
    notes=st.none() | st.text(alphabet="abc XYZ-_.,", min_size=1).map(str.strip),
    with_version=st.booleans(),
    order=st.randoms(use_true_random=False),
)
def test_well_formed_records_round_trip(
    hashes: list[str] | None,
    flags: list[str],
    services: list[str] | None,
    notes: str | None,
    with_version: bool,
    order: object,
) -> None:
    tags = [("k", "ed25519"), ("p", ED)]
    if hashes is not None:
        tags.append(("h", ":".join(hashes)))
    if flags:
        tags.append(("t", ":".join(flags)))
    if services is not None:
        tags.append(("s", ":".join(services)))
    if notes:
        tags.append(("n", notes))
    order.shuffle(tags)  # type: ignore[attr-defined]
    if with_version:
        tags.insert(0, ("v", "DKIM1"))
    key = parse_dkim_key("; ".join(f"{k}={v}" for k, v in tags))
    assert key.key_type == "ed25519" and key.bits == 256 and key.public_key == ed_raw()
    assert key.hashes == (tuple(hashes) if hashes is not None else None)
    assert key.flags == tuple(flags)
    assert key.services == (tuple(services) if services is not None else ("*",))
    assert key.notes == (notes or None)
    assert key.version == ("DKIM1" if with_version else None)
    assert key.testing == ("y" in flags)
