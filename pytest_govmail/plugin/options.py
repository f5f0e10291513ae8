"""The plugin's command-line options and ini keys, and the run settings they make.

Every option is declared here, once, through :func:`option`, which also records whether the
option steers *collection* (which domains, which resolver, which ports...) or *judging*.
``govmail-sweep`` reads :data:`COLLECTING` to pass the first kind to its collecting step only
and the rest to every batch, so a new option is classified where it is declared.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_govmail.collect.scan_settings import DEFAULT_GREETING_TIMEOUT
from pytest_govmail.engine.settings import Settings, parse_nameserver
from pytest_govmail.inputs.targets import targets_from_file, targets_from_values
from pytest_govmail.model.target import Target

if TYPE_CHECKING:
    from pytest_govmail.inputs.waivers import Horizon

#: The flags that steer collection (``govmail-sweep`` gives them to its collecting step only).
COLLECTING: set[str] = set()
#: Of those, the flags that take no value.
COLLECTING_FLAGS: set[str] = set()


def option(group: Any, flag: str, *, collects: bool, **kwargs: Any) -> None:
    """Declare one ``--govmail-*`` option, noting whether it steers collection."""
    group.addoption(flag, **kwargs)
    if collects:
        COLLECTING.add(flag)
        if kwargs.get("action") in ("store_true", "store_false"):
            COLLECTING_FLAGS.add(flag)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("govmail", "pytest-govmail: UK government secure-email assessment")
    option(
        group,
        "--govmail-domain",
        collects=True,
        action="append",
        default=[],
        dest="govmail_domains",
        metavar="DOMAIN",
        help="a domain to assess (repeatable; a comma-separated list works too).",
    )
    option(
        group,
        "--govmail-domains-file",
        collects=True,
        dest="govmail_domains_file",
        metavar="FILE",
        help="domains to assess: one a line, or CSV with columns domain, role, dkim_selectors.",
    )
    option(
        group,
        "--govmail-nameserver",
        collects=True,
        action="append",
        default=[],
        dest="govmail_nameservers",
        metavar="IP[:PORT]",
        help="resolver to use instead of the system's (repeatable).",
    )
    option(
        group,
        "--govmail-timeout",
        collects=True,
        dest="govmail_timeout",
        type=float,
        metavar="SECONDS",
        help="per-query network timeout (default 5).",
    )
    option(
        group,
        "--govmail-greeting-timeout",
        collects=True,
        dest="govmail_greeting_timeout",
        type=float,
        metavar="SECONDS",
        help="how long an SMTP greeting that has begun ('220-' received) may take to complete "
        "(default 30). Postfix's postscreen sends '220-' at once and the rest after its "
        "pregreet wait (6 s by default), longer than --govmail-timeout; RFC 5321 section "
        "4.5.3.2 allows the greeting five minutes. A greeting that never begins still waits "
        "--govmail-timeout.",
    )
    option(
        group,
        "--govmail-dkim-selector",
        collects=False,
        action="append",
        default=[],
        dest="govmail_dkim_selectors",
        metavar="SELECTOR",
        help="DKIM selector to try for every domain (repeatable).",
    )
    option(
        group,
        "--govmail-eml",
        collects=True,
        action="append",
        default=[],
        dest="govmail_eml",
        metavar="FILE",
        help="a sample message whose DKIM signatures are verified (DKIM-07; repeatable).",
    )
    option(
        group,
        "--govmail-trust-anchor",
        collects=True,
        dest="govmail_trust_anchor",
        metavar="FILE",
        help="DNSSEC trust anchors (DS or DNSKEY records, one a line) to validate from, instead "
        "of the packaged IANA root anchors.",
    )
    option(
        group,
        "--govmail-trusted-resolver",
        collects=True,
        dest="govmail_trusted_resolver",
        metavar="IP[:PORT]",
        help="take this resolver's DNSSEC AD bit instead of validating from a trust anchor "
        "(it must be one of --govmail-nameserver, and the path to it must be trusted).",
    )
    option(
        group,
        "--govmail-dmarc-reports",
        collects=False,
        action="append",
        default=[],
        dest="govmail_dmarc_reports",
        metavar="PATH",
        help="DMARC aggregate reports as receivers send them (.xml, .xml.gz, .zip, .eml): a "
        "file or a folder, read recursively (repeatable; REPORTS-01..03, and their DKIM "
        "selectors join the DKIM checks).",
    )
    option(
        group,
        "--govmail-tlsrpt-reports",
        collects=False,
        action="append",
        default=[],
        dest="govmail_tlsrpt_reports",
        metavar="PATH",
        help="TLS-RPT reports (RFC 8460 JSON, .json.gz, .eml): a file or a folder, read "
        "recursively (repeatable; REPORTS-04).",
    )
    option(
        group,
        "--govmail-report-window",
        collects=False,
        dest="govmail_report_window",
        type=int,
        metavar="DAYS",
        help="ignore DMARC and TLS-RPT reports whose period ended more than DAYS days before "
        "the run (default 30).",
    )
    option(
        group,
        "--govmail-ca-file",
        collects=True,
        dest="govmail_ca_file",
        metavar="PEM",
        help="extra trust anchors (a private CA) for the SMTP and HTTPS certificate checks.",
    )
    option(
        group,
        "--govmail-allow-private",
        collects=True,
        action="store_true",
        default=None,
        dest="govmail_allow_private",
        help="allow SMTP and HTTPS probes to private and loopback addresses (refused by default).",
    )
    option(
        group,
        "--govmail-ip-version",
        collects=True,
        choices=("auto", "4", "6", "both"),
        default="auto",
        dest="govmail_ip_version",
        help="which MX addresses to probe: auto (default: the families this machine has a "
        "route to; the others are named as not probed), 4, 6, or both (every address: "
        "unreachable is inconclusive).",
    )
    option(
        group,
        "--govmail-smtp-port",
        collects=True,
        dest="govmail_smtp_port",
        type=int,
        metavar="N",
        help="SMTP port of the MX hosts (default 25; labs and tests use others).",
    )
    option(
        group,
        "--govmail-https-port",
        collects=True,
        dest="govmail_https_port",
        type=int,
        metavar="N",
        help="HTTPS port of the MTA-STS policy hosts (default 443).",
    )
    option(
        group,
        "--govmail-ehlo-name",
        collects=True,
        dest="govmail_ehlo_name",
        metavar="NAME",
        help="the name this client gives in EHLO (default: this machine's FQDN).",
    )
    option(
        group,
        "--govmail-connections-per-address",
        collects=True,
        dest="govmail_connections",
        type=int,
        metavar="N",
        help="simultaneous connections to one MX address (default 2: mail servers throttle).",
    )
    option(
        group,
        "--govmail-tls-profile",
        collects=False,
        dest="govmail_tls_profile",
        metavar="TOML",
        help="a cipher profile of your own instead of the packaged NCSC one.",
    )
    option(
        group,
        "--govmail-cert-expiry-days",
        collects=False,
        dest="govmail_cert_expiry_days",
        metavar="N",
        help="CERT-04 and MTASTS-09 warn when a certificate expires within N days (default: the "
        "TLS profile's, 30).",
    )
    option(
        group,
        "--govmail-evidence-out",
        collects=False,
        dest="govmail_evidence_out",
        metavar="FILE",
        help="write the evidence (every raw answer) as JSON to FILE.",
    )
    option(
        group,
        "--govmail-evidence-only",
        collects=False,
        action="store_true",
        default=False,
        dest="govmail_evidence_only",
        help="collect the evidence every requirement needs, write it (--govmail-evidence-out) "
        "and run no test: judge it later with --govmail-replay (govmail-sweep's first step).",
    )
    option(
        group,
        "--govmail-replay",
        collects=False,
        action="append",
        default=[],
        dest="govmail_replay",
        metavar="FILE",
        help="re-judge saved evidence with no network at all (repeatable: shards merge).",
    )
    option(
        group,
        "--govmail-shard",
        collects=True,
        dest="govmail_shard",
        metavar="K/N",
        help="assess only shard K of N of the domain list (a stable hash of each name), "
        "for CI matrices; replay the shards' evidence files together for one report.",
    )
    option(
        group,
        "--govmail-demo",
        collects=True,
        action="store_true",
        default=False,
        dest="govmail_demo",
        help="start the embedded demo lab on loopback and assess its sample departments.",
    )
    option(
        group,
        "--govmail-waivers",
        collects=False,
        dest="govmail_waivers",
        metavar="FILE",
        help="accepted exceptions (TOML: requirement, domain glob, reason, expires).",
    )
    option(
        group,
        "--govmail-waiver-horizon",
        collects=False,
        dest="govmail_waiver_horizon",
        metavar="DAYS",
        help="refuse a waiver that expires more than DAYS days from today (default 365).",
    )
    option(
        group,
        "--govmail-attestations",
        collects=False,
        dest="govmail_attestations",
        metavar="FILE",
        help="attested controls for ATTEST-01 (TOML: domain, control, attested_by, date, ...).",
    )
    option(
        group,
        "--govmail-levels",
        collects=False,
        dest="govmail_levels",
        metavar="FILE",
        help="your organisation's levels (TOML: [requirement.ID] level = must|should|advisory, "
        "reason = why); the report shows each change.",
    )
    option(
        group,
        "--govmail-retired-addresses",
        collects=False,
        dest="govmail_retired_addresses",
        metavar="FILE",
        help="more retired report addresses for DMARC-09 and TLSRPT-03 (TOML, the layout of "
        "the packaged retired_reporting.toml).",
    )
    option(
        group,
        "--govmail-report-dir",
        collects=False,
        dest="govmail_report_dir",
        metavar="DIR",
        help="where govmail.html and junit.xml go by default (default: reports).",
    )
    option(
        group,
        "--govmail-no-reports",
        collects=False,
        action="store_true",
        default=False,
        dest="govmail_no_reports",
        help="do not write the default HTML and JUnit reports.",
    )
    option(
        group,
        "--govmail-report-data",
        collects=False,
        dest="govmail_report_data",
        metavar="FILE",
        help="also write the HTML report's data as JSON (govmail-sweep merges its batches').",
    )
    option(
        group,
        "--govmail-ignore-memory-estimate",
        collects=False,
        action="store_true",
        default=False,
        dest="govmail_ignore_memory_estimate",
        help="run even when the run's estimated memory is more than this machine has "
        "available (by default such a run stops at once and names the govmail-sweep command "
        "that does the same work in bounded memory).",
    )
    option(
        group,
        "--govmail-baseline",
        collects=False,
        dest="govmail_baseline",
        metavar="FILE",
        help="an earlier run's evidence file: each test says how it changed against it (new "
        "failure, fixed, still failing, newly inconclusive, ...) in the terminal, the HTML "
        "report and JUnit (govmail.change).",
    )
    option(
        group,
        "--govmail-fail-on",
        collects=False,
        choices=("any", "new"),
        default="any",
        dest="govmail_fail_on",
        help="any (default): exit 1 when any test fails; new: exit 1 only when a test got "
        "worse than --govmail-baseline (a new failure or newly inconclusive).",
    )
    parser.addini("govmail_domains", "domains to assess", type="linelist", default=[])
    parser.addini("govmail_domains_file", "domains file (see --govmail-domains-file)", default="")
    parser.addini("govmail_nameservers", "resolvers IP[:PORT]", type="linelist", default=[])
    parser.addini("govmail_timeout", "per-query network timeout in seconds", default="5")
    parser.addini(
        "govmail_greeting_timeout",
        "seconds a begun SMTP greeting may take to complete (default 30)",
        default="",
    )
    parser.addini("govmail_dkim_selectors", "DKIM selectors to try", type="linelist", default=[])
    parser.addini("govmail_evidence_out", "write evidence JSON here", default="")
    parser.addini("govmail_ca_file", "extra trust anchors (PEM)", default="")
    parser.addini("govmail_trust_anchor", "DNSSEC trust-anchor file", default="")
    parser.addini("govmail_trusted_resolver", "resolver whose AD bit is trusted", default="")
    parser.addini("govmail_allow_private", "probe private addresses", type="bool", default=False)
    parser.addini("govmail_smtp_port", "SMTP port of MX hosts", default="25")
    parser.addini("govmail_https_port", "HTTPS port of MTA-STS hosts", default="443")
    parser.addini("govmail_ehlo_name", "EHLO name", default="")
    parser.addini("govmail_connections", "connections per MX address", default="2")
    parser.addini("govmail_tls_profile", "cipher profile TOML", default="")
    parser.addini("govmail_cert_expiry_days", "CERT-04 warning window in days", default="")
    parser.addini("govmail_report_dir", "default report folder", default="reports")
    parser.addini("govmail_waivers", "waiver file (see --govmail-waivers)", default="")
    parser.addini(
        "govmail_waiver_horizon", "days ahead a waiver may expire (default 365)", default=""
    )
    parser.addini("govmail_attestations", "attestation file", default="")
    parser.addini("govmail_levels", "levels file (see --govmail-levels)", default="")
    parser.addini(
        "govmail_retired_addresses",
        "retired report addresses file (see --govmail-retired-addresses)",
        default="",
    )
    parser.addini(
        "govmail_lean_protocol",
        "run suite tests through the plugin's lean protocol (false: pytest's own; "
        "see pytest_govmail.plugin.lean)",
        type="bool",
        default=True,
    )


def report_window(config: pytest.Config) -> int:
    """``--govmail-report-window`` in days (default 30); out of range is a usage error."""
    from pytest_govmail.model.feedback import DEFAULT_WINDOW_DAYS

    days = config.getoption("govmail_report_window")
    if days is None:
        return DEFAULT_WINDOW_DAYS
    if not 1 <= days <= 3650:
        raise pytest.UsageError(f"--govmail-report-window: {days} is not 1 to 3650 days")
    return int(days)


def option_or_ini(config: pytest.Config, name: str) -> str:
    """The option's value when given on the command line, else the ini key's (same name)."""
    value = config.getoption(name)
    if value is not None and value != "":
        return str(value)
    return str(config.getini(name) or "")


def waiver_horizon(config: pytest.Config) -> Horizon | None:
    """The horizon the user's waiver file is held to, or None when there is none to hold.

    The horizon applies to the waiver file given for this run (``--govmail-waivers`` or its ini
    key), judged against today's UTC date, on a replay too: waivers are judged at run time. A
    replayed run's own stored waivers are judged as they were collected, and so is the demo
    lab's packaged file under ``--govmail-demo`` (its waivers must stay current for years to
    show what a waiver does): neither is given for this run. A bad number of days is a usage
    error even without a waiver file.
    """
    from datetime import UTC, datetime

    from pytest_govmail.inputs.waivers import DEFAULT_HORIZON_DAYS, Horizon

    text = option_or_ini(config, "govmail_waiver_horizon").strip()
    if text and not (text.isdigit() and int(text) <= 36500):
        raise pytest.UsageError(f"--govmail-waiver-horizon: {text!r} is not 0 to 36500 days")
    given = option_or_ini(config, "govmail_waivers")
    if not given:
        return None
    days = int(text) if text else DEFAULT_HORIZON_DAYS
    return Horizon(days, datetime.now(UTC).date())


def settings_from(config: pytest.Config) -> Settings:
    nameservers = list(config.getoption("govmail_nameservers")) or list(
        config.getini("govmail_nameservers")
    )
    for ns in nameservers:
        try:
            parse_nameserver(ns)
        except ValueError as exc:
            raise pytest.UsageError(f"--govmail-nameserver: {exc}") from None
    timeout_text = option_or_ini(config, "govmail_timeout") or "5"
    try:
        timeout = float(timeout_text)
    except ValueError:
        raise pytest.UsageError(f"govmail timeout {timeout_text!r} is not a number") from None
    if not 0 < timeout <= 300:
        raise pytest.UsageError(
            f"--govmail-timeout: {timeout:g} s; it must be more than 0 and at most 300 seconds"
        )
    greeting_text = option_or_ini(config, "govmail_greeting_timeout").strip()
    greeting_timeout = DEFAULT_GREETING_TIMEOUT
    if greeting_text:
        try:
            greeting_timeout = float(greeting_text)
        except ValueError:
            raise pytest.UsageError(
                f"--govmail-greeting-timeout: {greeting_text!r} is not a number"
            ) from None
        if not 0 < greeting_timeout <= 300:
            raise pytest.UsageError(
                f"--govmail-greeting-timeout: {greeting_timeout:g} s; it must be more than 0 "
                "and at most 300 seconds (RFC 5321's five minutes)"
            )
    smtp_port = _int_setting(config, "govmail_smtp_port", "--govmail-smtp-port", 65535)
    https_port = _int_setting(config, "govmail_https_port", "--govmail-https-port", 65535)
    connections = _int_setting(
        config, "govmail_connections", "--govmail-connections-per-address", 16
    )
    ca_file = option_or_ini(config, "govmail_ca_file")
    if ca_file:
        _check_ca_file(Path(ca_file))
    profile = option_or_ini(config, "govmail_tls_profile")
    if profile:
        from pytest_govmail.inputs.tls_profile import ProfileError, load_profile

        try:
            load_profile(Path(profile))
        except ProfileError as exc:
            raise pytest.UsageError(f"--govmail-tls-profile: {exc}") from None
    expiry = option_or_ini(config, "govmail_cert_expiry_days").strip()
    if expiry and not (expiry.isdigit() and int(expiry) <= 3650):
        raise pytest.UsageError(f"--govmail-cert-expiry-days: {expiry!r} is not 0 to 3650 days")
    trust_anchor = option_or_ini(config, "govmail_trust_anchor")
    if trust_anchor:
        _check_trust_anchor(Path(trust_anchor))
    trusted = option_or_ini(config, "govmail_trusted_resolver").strip()
    if trusted:
        _check_trusted_resolver(trusted, nameservers)
    allow = config.getoption("govmail_allow_private")
    return Settings(
        nameservers=tuple(nameservers),
        timeout=timeout,
        greeting_timeout=greeting_timeout,
        smtp_port=smtp_port,
        https_port=https_port,
        ca_file=Path(ca_file) if ca_file else None,
        allow_private=bool(config.getini("govmail_allow_private") if allow is None else allow),
        ehlo_name=option_or_ini(config, "govmail_ehlo_name") or None,
        connections_per_address=connections,
        tls_profile=Path(profile) if profile else None,
        cert_expiry_days=int(expiry) if expiry else None,
        eml=tuple(Path(p) for p in config.getoption("govmail_eml")),
        ip_version=str(config.getoption("govmail_ip_version") or "auto"),
        trust_anchor=Path(trust_anchor) if trust_anchor else None,
        trusted_resolver=trusted or None,
    )


def _check_trust_anchor(path: Path) -> None:
    """A trust-anchor file must hold DS or DNSKEY records; say so before any question."""
    from pytest_govmail.collect.dnssec import TrustAnchorError, load_trust_anchors

    try:
        load_trust_anchors(path)
    except TrustAnchorError as exc:
        raise pytest.UsageError(f"--govmail-trust-anchor: {exc}") from None


def _check_trusted_resolver(text: str, nameservers: list[str]) -> None:
    """The trusted resolver must be one the run asks: an AD bit from any other means nothing."""
    try:
        wanted = parse_nameserver(text)
    except ValueError as exc:
        raise pytest.UsageError(f"--govmail-trusted-resolver: {exc}") from None
    given = []
    for ns in nameservers:
        with contextlib.suppress(ValueError):
            given.append(parse_nameserver(ns))
    if wanted not in given:
        raise pytest.UsageError(
            f"--govmail-trusted-resolver: {text} is not one of the resolvers given with "
            "--govmail-nameserver; name it there too, so that its answers are the ones judged"
        )


def _check_ca_file(path: Path) -> None:
    """A CA file must hold at least one PEM certificate; say so before any connection."""
    from cryptography import x509

    try:
        certificates = x509.load_pem_x509_certificates(path.read_bytes())
    except OSError as exc:
        raise pytest.UsageError(f"--govmail-ca-file: cannot read {str(path)!r}: {exc}") from None
    except ValueError:
        certificates = []
    if not certificates:
        raise pytest.UsageError(f"--govmail-ca-file: {str(path)!r} holds no PEM certificate")


def _int_setting(config: pytest.Config, name: str, flag: str, high: int) -> int:
    text = option_or_ini(config, name)
    if not text.isdigit() or not 1 <= int(text) <= high:
        raise pytest.UsageError(f"{flag}: {text!r} is not a number from 1 to {high}")
    return int(text)


def targets_from(config: pytest.Config) -> list[Target]:
    found = targets_from_values(
        list(config.getoption("govmail_domains")) or list(config.getini("govmail_domains"))
    )
    domains_file = option_or_ini(config, "govmail_domains_file")
    if domains_file:
        found.extend(targets_from_file(Path(domains_file)))
    return found
