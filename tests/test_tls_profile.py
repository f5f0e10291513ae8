"""The TLS profile: the packaged data, the strict loader, the suite classifier and group names."""

from __future__ import annotations

import importlib.resources
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sslyze.plugins.openssl_cipher_suites.cipher_suites import CipherSuitesRepository
from sslyze.server_connectivity import TlsVersionEnum

from pytest_govmail.collect.tls import iana_name as collector_iana_name
from pytest_govmail.inputs.tls_profile import (
    PACKAGED_SOURCE,
    ProfileError,
    canonical_group,
    classify,
    iana_name,
    load_profile,
    openssl_to_iana,
    parse_profile,
    profile_from_input,
    profile_input,
)
from pytest_govmail.model.tls import TlsVersion

PACKAGED = (
    importlib.resources.files("pytest_govmail.inputs")
    .joinpath("tls_profile.toml")
    .read_text(encoding="utf-8")
)

# The cipher sets of the catalogue (NCSC guidance and Mail Check), word for word.
REQUIRED_RECOMMENDED = {
    "TLS_AES_256_GCM_SHA384",
    "TLS_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
}
REQUIRED_ACCEPTABLE = {
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_CHACHA20_POLY1305_SHA256",
}


def test_packaged_profile_is_named_versioned_and_cached() -> None:
    profile = load_profile()
    assert profile.id == "ncsc@2026.1"
    assert load_profile() is profile
    assert profile.source == "packaged tls_profile.toml"


def test_packaged_sets_are_exactly_the_requirements() -> None:
    profile = load_profile()
    assert set(profile.recommended) == REQUIRED_RECOMMENDED
    assert set(profile.acceptable) == REQUIRED_ACCEPTABLE
    assert profile.groups == ("P-256", "P-384", "P-521", "X25519", "X448")
    assert profile.min_dhe_bits == 2048
    assert (profile.min_rsa_bits, profile.min_ec_bits) == (2048, 256)
    assert profile.expiry_warning_days == 30  # where ACME clients renew


def test_openssl_names_of_listed_suites_classify_as_their_iana_names() -> None:
    listed = REQUIRED_RECOMMENDED | REQUIRED_ACCEPTABLE
    found = {}
    for version in TlsVersionEnum:
        for suite in CipherSuitesRepository.get_all_cipher_suites(version):
            if suite.name in listed and suite.openssl_name != suite.name:
                found[suite.openssl_name] = suite.name
    assert set(found.values()) == {s for s in listed if "_WITH_" in s}  # TLS 1.2 suites
    for openssl, iana in found.items():
        assert openssl_to_iana(openssl) == iana
        assert classify(openssl) == classify(iana) != "weak"
        assert classify(openssl.lower()) == classify(iana)


def test_one_openssl_to_iana_map_serves_collector_and_profile() -> None:
    assert collector_iana_name("ECDHE-RSA-AES128-GCM-SHA256") == (
        openssl_to_iana("ECDHE-RSA-AES128-GCM-SHA256")
    )
    assert openssl_to_iana("ADH-AES128-SHA") == "TLS_DH_anon_WITH_AES_128_CBC_SHA"
    assert iana_name("ADH-AES128-SHA") == "TLS_DH_ANON_WITH_AES_128_CBC_SHA"
    # SSL 2.0 suites have names of their own.
    assert openssl_to_iana("RC4-MD5", ssl2=True) == "SSL_CK_RC4_128_WITH_MD5"
    assert openssl_to_iana("RC4-MD5") == "TLS_RSA_WITH_RC4_128_MD5"
    assert collector_iana_name("RC4-MD5", TlsVersion.SSL_2_0) == "SSL_CK_RC4_128_WITH_MD5"
    assert openssl_to_iana("NOT-A-SUITE") is None
    assert collector_iana_name("NOT-A-SUITE") == "NOT-A-SUITE"


def test_a_user_profile_lists_suites_that_openssl_names_reach() -> None:
    text = _variant(
        "acceptable = [\n", 'acceptable = [\n    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",\n'
    )
    profile = parse_profile(text, "user.toml")
    assert profile.classify("ECDHE-RSA-AES128-SHA") == "acceptable"
    assert load_profile().classify("ECDHE-RSA-AES128-SHA") == "weak"


@pytest.mark.parametrize(
    ("suite", "expected"),
    [
        *(pytest.param(s, "recommended", id=f"rec-{s}") for s in sorted(REQUIRED_RECOMMENDED)),
        *(pytest.param(s, "acceptable", id=f"acc-{s}") for s in sorted(REQUIRED_ACCEPTABLE)),
        pytest.param("ECDHE-RSA-AES128-GCM-SHA256", "recommended", id="openssl-recommended"),
        pytest.param("ecdhe-ecdsa-chacha20-poly1305", "acceptable", id="openssl-lower-case"),
        pytest.param(" tls_aes_128_gcm_sha256 ", "recommended", id="lower-case-padded"),
        pytest.param("TLS_RSA_WITH_AES_128_GCM_SHA256", "weak", id="static-rsa"),
        pytest.param("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "weak", id="3des"),
        pytest.param("DES-CBC3-SHA", "weak", id="openssl-3des-is-not-des"),
        pytest.param("ECDHE-RSA-DES-CBC3-SHA", "weak", id="openssl-ecdhe-3des"),
        pytest.param("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "weak", id="sha1-cbc"),
        pytest.param("TLS_AES_128_CCM_8_SHA256", "weak", id="tls13-unlisted"),
        pytest.param("AES128-SHA", "weak", id="openssl-weak"),
        pytest.param("TLS_EMPTY_RENEGOTIATION_INFO_SCSV", "weak", id="scsv"),
        pytest.param("", "weak", id="empty"),
        pytest.param("TLS_NULL_WITH_NULL_NULL", "insecure", id="null-null"),
        pytest.param("TLS_RSA_WITH_NULL_SHA256", "insecure", id="null-cipher"),
        pytest.param("TLS_ECDHE_RSA_WITH_NULL_SHA", "insecure", id="ecdhe-null"),
        pytest.param("TLS_DH_anon_WITH_AES_128_GCM_SHA256", "insecure", id="anon"),
        pytest.param("TLS_ECDH_anon_WITH_AES_256_CBC_SHA", "insecure", id="ecdh-anon"),
        pytest.param("TLS_RSA_EXPORT_WITH_RC4_40_MD5", "insecure", id="export"),
        pytest.param("TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA", "insecure", id="export1024"),
        pytest.param("TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", "insecure", id="rc2"),
        pytest.param("TLS_RSA_WITH_DES_CBC_SHA", "insecure", id="des"),
        pytest.param("TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA", "insecure", id="des40"),
        pytest.param("TLS_ECDHE_RSA_WITH_RC4_128_SHA", "insecure", id="rc4"),
        pytest.param("SSL_RSA_WITH_RC4_128_MD5", "insecure", id="ssl-prefix-md5"),
        pytest.param("SSL_CK_DES_192_EDE3_CBC_WITH_MD5", "insecure", id="sslv2-md5"),
        pytest.param("TLS_SHA256_SHA256", "insecure", id="rfc9150-integrity-only"),
        pytest.param("EXP-RC4-MD5", "insecure", id="openssl-export"),
        pytest.param("ADH-AES128-SHA", "insecure", id="openssl-adh"),
        pytest.param("AECDH-AES256-SHA", "insecure", id="openssl-aecdh"),
        pytest.param("NULL-SHA", "insecure", id="openssl-null"),
        pytest.param("DES-CBC-SHA", "insecure", id="openssl-des"),
        pytest.param("RC4-SHA", "insecure", id="openssl-rc4"),
    ],
)
def test_classify(suite: str, expected: str) -> None:
    assert classify(suite) == expected


@given(st.text(max_size=200))
def test_any_text_classifies_without_raising(text: str) -> None:
    assert classify(text) in ("recommended", "acceptable", "weak", "insecure")


@given(
    st.lists(
        st.sampled_from(
            "TLS SSL ECDHE RSA WITH AES 128 GCM SHA anon CBC3 DES NULL EXP MD5 RC4 - _ "
            "CHACHA20 POLY1305 3DES".split()
        ),
        max_size=10,
    )
)
def test_suite_like_names_classify_without_raising(parts: list[str]) -> None:
    name = "_".join(parts)
    result = classify(name)
    assert result in ("recommended", "acceptable", "weak", "insecure")
    if {"NULL", "RC4", "MD5", "ANON"} & {p.upper() for p in parts}:
        assert result == "insecure"


def test_iana_name() -> None:
    assert iana_name("SSL_RSA_WITH_3DES_EDE_CBC_SHA") == "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
    assert iana_name("ECDHE-RSA-AES256-GCM-SHA384") == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    assert iana_name("SSL_CK_RC4_128_WITH_MD5") == "SSL_CK_RC4_128_WITH_MD5"


@pytest.mark.parametrize(
    ("name", "canonical", "allowed"),
    [
        pytest.param("secp256r1", "P-256", True, id="secp256r1"),
        pytest.param("prime256v1", "P-256", True, id="prime256v1"),
        pytest.param("P-384", "P-384", True, id="p384"),
        pytest.param("secp521r1", "P-521", True, id="secp521r1"),
        pytest.param("x25519", "X25519", True, id="x25519"),
        pytest.param("X448", "X448", True, id="x448"),
        pytest.param("X25519MLKEM768", "X25519MLKEM768", True, id="hybrid"),
        pytest.param("secp224r1", "secp224r1", False, id="p224"),
        pytest.param("brainpoolP256r1", "brainpoolP256r1", False, id="brainpool"),
        pytest.param("", "", False, id="empty"),
    ],
)
def test_groups(name: str, canonical: str, allowed: bool) -> None:
    assert canonical_group(name) == canonical
    assert load_profile().group_allowed(name) is allowed


def _variant(old: str, new: str) -> str:
    assert old in PACKAGED, old
    return PACKAGED.replace(old, new, 1)


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_user_profile_file(tmp_path: Path) -> None:
    text = _variant('name = "ncsc"', 'name = "dept-strict"')
    text = text.replace('version = "2026.1"', 'version = "3"')
    text = text.replace('    "TLS_CHACHA20_POLY1305_SHA256",\n', "")
    text = _replace_once(text, "expiry_warning_days = 30", "expiry_warning_days = 45")
    path = tmp_path / "profile.toml"
    path.write_text(text, encoding="utf-8")
    profile = load_profile(path)
    assert profile.id == "dept-strict@3"
    assert profile.expiry_warning_days == 45
    assert profile.classify("TLS_CHACHA20_POLY1305_SHA256") == "weak"
    assert load_profile(path) is profile
    assert profile.source == str(path.resolve())


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            "schema = 1", "schema = 1\ncolour = 'red'", r": colour: unknown key", id="top"
        ),
        pytest.param(
            "min_dhe_bits = 2048",
            "min_dhe_bits = 2048\ncurves = []",
            r"key_exchange\.curves: unknown key",
            id="sub-key",
        ),
        pytest.param("min_ec_bits = 256\n", "", r"certificate\.min_ec_bits: missing", id="missing"),
        pytest.param('version = "2026.1"', "", r": version: missing", id="missing-version"),
        pytest.param(
            '    "TLS_AES_256_GCM_SHA384",\n',
            "    42,\n",
            r"suites\.recommended\[0\]: expected a string",
            id="item-type",
        ),
        pytest.param(
            '    "TLS_AES_256_GCM_SHA384",\n',
            '    "AES256 GCM",\n',
            r"suites\.recommended\[0\]: 'AES256 GCM' does not match",
            id="not-iana",
        ),
        pytest.param(
            '    "TLS_AES_128_GCM_SHA256",\n',
            '    "TLS_AES_256_GCM_SHA384",\n',
            r"suites\.recommended\[1\]: .* listed twice",
            id="duplicate",
        ),
        pytest.param(
            '    "TLS_CHACHA20_POLY1305_SHA256",\n',
            '    "TLS_AES_128_GCM_SHA256",\n',
            r"suites\.acceptable: TLS_AES_128_GCM_SHA256 is also listed",
            id="in-both",
        ),
        pytest.param(
            '    "TLS_CHACHA20_POLY1305_SHA256",\n',
            '    "TLS_RSA_WITH_RC4_128_SHA",\n',
            r"suites\.acceptable\[8\]: TLS_RSA_WITH_RC4_128_SHA is insecure",
            id="insecure-listed",
        ),
        pytest.param("schema = 1", "schema = 2", r"schema: 2 is not a supported", id="schema"),
        pytest.param("schema = 1", "schema = true", r"schema: True is not", id="schema-bool"),
        pytest.param('name = "ncsc"', 'name = "NCSC@x"', r"name: 'NCSC@x' does not", id="name"),
        pytest.param(
            "min_rsa_bits = 2048",
            "min_rsa_bits = true",
            r"certificate\.min_rsa_bits: expected an integer, got bool",
            id="bool-as-int",
        ),
        pytest.param(
            "expiry_warning_days = 30",
            "expiry_warning_days = -1",
            r"certificate\.expiry_warning_days: -1 is outside",
            id="out-of-range",
        ),
        pytest.param(
            'tokens = ["NULL"',
            'tokens = ["NU LL"',
            r"insecure\.tokens\[0\]: 'NU LL' does not match",
            id="token",
        ),
        pytest.param("schema = 1", "schema = = 1", r"not valid TOML", id="toml"),
    ],
)
def test_bad_profile_names_the_key(old: str, new: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        parse_profile(_variant(old, new), "dept.toml")


def test_bad_profile_shapes() -> None:
    listed = re.sub(
        r"recommended = \[.*?\]",
        "recommended = 'TLS_AES_128_GCM_SHA256'",
        PACKAGED,
        count=1,
        flags=re.S,
    )
    with pytest.raises(ProfileError, match=r"suites\.recommended: expected a list of strings"):
        parse_profile(listed)
    cut = PACKAGED[: PACKAGED.index("[certificate]")].replace(
        "schema = 1", "schema = 1\ncertificate = 3"
    )
    with pytest.raises(ProfileError, match=r": certificate: expected a table, got int"):
        parse_profile(cut)


def test_profile_error_is_a_value_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(_variant("min_ec_bits = 256", "min_ec_bits = 'big'"), encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.toml: certificate\.min_ec_bits: expected an"):
        load_profile(path)
    with pytest.raises(ProfileError, match="cannot read the TLS profile"):
        load_profile(tmp_path / "absent.toml")


# ------------------------------------------------------------------------------------------
# The profile as a run input: stored in the evidence, judged with on replay
# ------------------------------------------------------------------------------------------

RELEASE_EVIDENCE = Path(__file__).parent / "data" / "release-0.1.0-demo-evidence.json"
BASE = ["-p", "no:cacheprovider", "-p", "no:randomly", "--govmail-no-reports"]
#: The two weak suites mx.legacy-tls-dept.gov.uk accepts at TLS 1.2 in the release evidence.
LEGACY_SHA1_SUITES = (
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
)


def test_profile_input_is_the_text_a_replay_reads(tmp_path: Path) -> None:
    source, text = profile_input()
    assert (source, text) == (PACKAGED_SOURCE, PACKAGED)
    assert profile_from_input(source, text) is load_profile()
    custom = _variant('name = "ncsc"', 'name = "stored"')
    path = tmp_path / "stored.toml"
    path.write_text(custom, encoding="utf-8")
    stored = profile_input(path)
    assert stored == (str(path.resolve()), custom)
    assert profile_from_input(*stored).id == "stored@2026.1"
    with pytest.raises(ProfileError, match=r"absent\.toml: cannot read the TLS profile"):
        profile_input(tmp_path / "absent.toml")
    with pytest.raises(ProfileError, match=r"^broken\.toml: .*missing"):
        profile_from_input("broken.toml", "schema = 1\n")


def _tls07(junit: Path) -> dict[str, str]:
    """TLS-07 outcome per MX host in a JUnit file."""
    found = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        named = {p.get("name"): p.get("value") for p in case.iter("property")}
        if named.get("govmail.requirement") == "TLS-07":
            failed = any(child.tag in ("failure", "error") for child in case)
            found[str(named["govmail.host"])] = "failed" if failed else "passed"
    return found


def _lenient_profile() -> str:
    """The packaged profile with the SHA-1 CBC suites of the legacy lab host made acceptable."""
    extra = "".join(f'    "{name}",\n' for name in LEGACY_SHA1_SUITES)
    text = _variant('name = "ncsc"', 'name = "lenient"')
    return text.replace("acceptable = [\n", "acceptable = [\n" + extra, 1)


def test_replay_judges_with_the_stored_profile_unless_one_is_given(
    pytester: pytest.Pytester,
) -> None:
    evidence = json.loads(RELEASE_EVIDENCE.read_text("utf-8"))
    evidence["inputs"]["tls_profile"] = {"source": "lenient.toml", "text": _lenient_profile()}
    pytester.path.joinpath("evidence.json").write_text(json.dumps(evidence), "utf-8")
    pytester.path.joinpath("ncsc.toml").write_text(PACKAGED, "utf-8")
    legacy = "mx.legacy-tls-dept.gov.uk"
    selection = ["-k", "legacy", "--govmail-replay=evidence.json", *BASE]

    stored = pytester.runpytest(*selection, "--junitxml=stored.xml")
    assert _tls07(pytester.path / "stored.xml") == {legacy: "passed"}
    stored.stdout.no_fnmatch_line("*TLS-07 FAIL*")

    pytester.runpytest(*selection, "--junitxml=given.xml", "--govmail-tls-profile=ncsc.toml")
    assert _tls07(pytester.path / "given.xml") == {legacy: "failed"}

    del evidence["inputs"]["tls_profile"]  # evidence from before profiles were stored
    pytester.path.joinpath("old.json").write_text(json.dumps(evidence), "utf-8")
    old = ["-k", "legacy", "--govmail-replay=old.json", *BASE, "--junitxml=old.xml"]
    pytester.runpytest(*old)
    assert _tls07(pytester.path / "old.xml") == {legacy: "failed"}


def test_replay_of_a_broken_stored_profile_is_a_usage_error(pytester: pytest.Pytester) -> None:
    evidence = json.loads(RELEASE_EVIDENCE.read_text("utf-8"))
    evidence["inputs"]["tls_profile"] = {"source": "broken.toml", "text": "schema = 1\n"}
    pytester.path.joinpath("evidence.json").write_text(json.dumps(evidence), "utf-8")
    result = pytester.runpytest("--govmail-replay=evidence.json", *BASE)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*broken.toml: *missing*"])


def test_cert_expiry_days_option_and_stored_profile(pytester: pytest.Pytester) -> None:
    evidence_out = pytester.path / "evidence.json"
    result = pytester.runpytest_subprocess(  # the demo lab in a process of its own
        "--govmail-demo",
        "-k",
        "not_expiring_soon and exemplary",
        "--govmail-cert-expiry-days=3650",
        f"--govmail-evidence-out={evidence_out}",
        "--junitxml=junit.xml",
        "-v",  # each test's whole message (compact by default)
        *BASE,
    )
    cases = list(ET.parse(pytester.path / "junit.xml").getroot().iter("testcase"))
    assert cases and all(case.find("failure") is not None for case in cases)
    result.stdout.fnmatch_lines(["*expected: more than 3650 days before notAfter*"])
    saved = json.loads(evidence_out.read_text("utf-8"))
    assert saved["inputs"]["tls_profile"] == {"source": PACKAGED_SOURCE, "text": PACKAGED}


@pytest.mark.parametrize("value", ["two weeks", "3651", "-1"])
def test_cert_expiry_days_option_is_checked(pytester: pytest.Pytester, value: str) -> None:
    result = pytester.runpytest("--govmail-demo", f"--govmail-cert-expiry-days={value}", *BASE)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--govmail-cert-expiry-days: * is not 0 to 3650 days*"])


def test_cert_expiry_days_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ngovmail_cert_expiry_days = 3650\n")
    evidence = json.loads(RELEASE_EVIDENCE.read_text("utf-8"))
    pytester.path.joinpath("evidence.json").write_text(json.dumps(evidence), "utf-8")
    result = pytester.runpytest(
        "--govmail-replay=evidence.json", "-k", "not_expiring_soon and exemplary", "-v", *BASE
    )
    result.stdout.fnmatch_lines(["*expected: more than 3650 days before notAfter*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
