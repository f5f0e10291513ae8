"""Real mail servers for the lab: Debian's Postfix and Exim, on loopback, as admins configure them.

The lab's own SMTP servers (:mod:`pytest_govmail.lab.smtp_server`) are Python, written to show
each fault one at a time. The public sector's MX hosts run Postfix, Exim and the like, whose
greetings, TLS libraries (OpenSSL for Postfix, GnuTLS for Exim) and defaults no model of ours
reproduces. This module starts the real programs from Debian 12's packages so the collector and
the judges can be held to them, with testssl.sh as an independent oracle
(``bench/testssl_compare.py``):

* Postfix 3.7 in seven configurations (:data:`POSTFIX_LISTENERS`): Mozilla's intermediate
  settings, Debian's defaults (``/usr/share/postfix/main.cf.debian`` plus ``main.cf.tls``, what
  the package's postinst writes), a legacy one, weak suites in server order, a self-signed and an
  expired certificate, and postscreen in front of smtpd (``POSTSCREEN_README``'s four lines in
  ``master.cf``). Each is its own instance: its own ``main.cf``/``master.cf`` (from the package's
  ``master.cf.dist``), queue and data directories and log file, run with ``postfix -c DIR
  start-fg`` so that this process owns the master and stops it.
* Exim 4.96 with Debian's configuration (``exim4-daemon-light``): the package's template turned
  into a configuration by the package's own ``update-exim4.conf``, with TLS switched on the way
  Debian's README tells admins to (``MAIN_TLS_ENABLE`` and the certificate's paths in
  ``exim4.conf.localmacros``), run as ``exim4 -C FILE -bdf``. Postfix and Exim conflict as
  packages (both provide ``mail-transport-agent``), so Exim's files are unpacked with
  ``dpkg-deb -x`` into a private directory (:func:`exim_root`) instead of being installed.

Each listener has its own 127.0.50.x address; all share one port, as the lab's own servers do
(a checker has one ``--govmail-smtp-port``). Postfix binds the address through ``master.cf``
(``ADDRESS:PORT inet ...``) because ``inet_interfaces`` accepts only addresses configured on an
interface, and 127.0.50.x reaches loopback without being one. Name lookups of clients are off
(``smtpd_peername_lookup = no``, Exim's ``host_lookup`` empty): the servers must not ask the
machine's resolver about loopback peers. Certificates come from
:class:`~pytest_govmail.lab.pki.LabPki`, and the expired one from a
:class:`~pytest_govmail.lab.pki.PrivateCa` made today; ``--govmail-ca-file`` with both roots
anchors them.

Starting needs root (Postfix's master, and Exim keeping its ``Debian-exim`` user) and the
packages; :func:`missing` says why a server cannot run, so tests skip with that reason.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pytest_govmail.lab.dns_server import LabDnsServer
from pytest_govmail.lab.lifecycle import StartStop
from pytest_govmail.lab.pki import LabPki, LeafCert, PrivateCa, dh_parameters_pem
from pytest_govmail.model.target import Target

__all__ = [
    "EXIM_LISTENERS",
    "LISTENERS",
    "POSTFIX_LISTENERS",
    "ZONE_ORIGIN",
    "RealListener",
    "RealMtaLab",
    "exim_root",
    "missing",
    "start_real_mta_lab",
    "zone_text",
]

#: The zone every listener's domain lives in.
ZONE_ORIGIN = "mta-lab.example"
#: Seconds a server may take to bind its port, and to let go of it when stopped.
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
#: Where ``.ci/run`` unpacks Exim's packages; ``GOVMAIL_EXIM_ROOT`` overrides it.
DEFAULT_EXIM_ROOT = Path("/opt/pytest-govmail/exim4")
#: The user Debian's Exim is built to run as (``exim4 -bV`` fails without it).
EXIM_USER = "Debian-exim"

Mta = Literal["postfix", "exim"]
Certificate = Literal["lab", "self-signed", "expired"]

#: Mozilla's "intermediate" settings for Postfix (ssl-config.mozilla.org, Postfix 3.7 with
#: OpenSSL 3.0): TLS 1.2 and 1.3, forward-secret AEAD suites, the client's order.
MOZILLA_INTERMEDIATE = (
    "smtpd_tls_protocols = !SSLv2, !SSLv3, !TLSv1, !TLSv1.1",
    "smtpd_tls_mandatory_protocols = !SSLv2, !SSLv3, !TLSv1, !TLSv1.1",
    "smtpd_tls_mandatory_ciphers = medium",
    "tls_medium_cipherlist = ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:"
    "DHE-RSA-CHACHA20-POLY1305",
    "tls_preempt_cipherlist = no",
)
#: An old how-to's settings: every version from TLS 1.0, the "high" grade less the families it
#: names, the server's order, and the 1024-bit DH parameters such guides had admins generate
#: (``openssl dhparam -out dh1024.pem 1024``; here RFC 2409's group 2).
LEGACY = (
    "smtpd_tls_protocols = !SSLv2, !SSLv3",
    "smtpd_tls_mandatory_protocols = !SSLv2, !SSLv3",
    "smtpd_tls_ciphers = high",
    "smtpd_tls_exclude_ciphers = aNULL, MD5, RC4, 3DES",
    "smtpd_tls_dh1024_param_file = ${config_directory}/dh1024.pem",
    "tls_preempt_cipherlist = yes",
)
#: Static-RSA and CBC-SHA1 suites first, and the server's order enforced: it picks them.
WEAK_SERVER_ORDER = (
    "smtpd_tls_protocols = !SSLv2, !SSLv3, !TLSv1, !TLSv1.1",
    "smtpd_tls_ciphers = medium",
    "tls_medium_cipherlist = AES128-SHA:AES256-SHA:ECDHE-RSA-AES128-SHA:"
    "ECDHE-RSA-AES256-GCM-SHA384",
    "tls_preempt_cipherlist = yes",
)


@dataclass(frozen=True)
class RealListener:
    """One real MTA listener: which program, where, configured how, with which certificate.

    ``settings`` are lines appended to Postfix's ``main.cf`` (Exim's listener uses Debian's
    configuration as it is). ``postscreen`` puts postscreen in front of smtpd in ``master.cf``;
    ``dh_bits`` writes ``dh<bits>.pem`` (published DH parameters) into the config directory.
    """

    name: str
    mta: Mta
    address: str
    story: str
    settings: tuple[str, ...] = ()
    certificate: Certificate = "lab"
    postscreen: bool = False
    dh_bits: int | None = None

    @property
    def domain(self) -> str:
        return f"{self.name}.{ZONE_ORIGIN}"

    @property
    def host(self) -> str:
        """The MX host name (the certificate's name, and the server's own name)."""
        return f"mx.{self.domain}"


POSTFIX_LISTENERS: tuple[RealListener, ...] = (
    RealListener(
        "postfix-modern",
        "postfix",
        "127.0.50.10",
        "Mozilla intermediate settings",
        MOZILLA_INTERMEDIATE,
    ),
    RealListener("postfix-debian", "postfix", "127.0.50.11", "Debian's defaults"),
    RealListener(
        "postfix-legacy",
        "postfix",
        "127.0.50.12",
        "an old how-to: TLS 1.0 up, server order, 1024-bit DH parameters",
        LEGACY,
        dh_bits=1024,
    ),
    RealListener(
        "postfix-weak",
        "postfix",
        "127.0.50.13",
        "static-RSA and CBC-SHA1 first, server order",
        WEAK_SERVER_ORDER,
    ),
    RealListener(
        "postfix-self-signed",
        "postfix",
        "127.0.50.14",
        "Mozilla intermediate, self-signed certificate",
        MOZILLA_INTERMEDIATE,
        certificate="self-signed",
    ),
    RealListener(
        "postfix-expired",
        "postfix",
        "127.0.50.15",
        "Mozilla intermediate, expired certificate from a private CA made today",
        MOZILLA_INTERMEDIATE,
        certificate="expired",
    ),
    RealListener(
        "postfix-postscreen",
        "postfix",
        "127.0.50.16",
        "Debian's defaults behind postscreen (6 s pregreet wait)",
        postscreen=True,
    ),
)
EXIM_LISTENERS: tuple[RealListener, ...] = (
    RealListener("exim-debian", "exim", "127.0.50.20", "Debian's configuration, TLS enabled"),
)
LISTENERS: tuple[RealListener, ...] = POSTFIX_LISTENERS + EXIM_LISTENERS


def exim_root() -> Path:
    """The directory Exim's packages were unpacked into (``dpkg-deb -x``)."""
    return Path(os.environ.get("GOVMAIL_EXIM_ROOT") or DEFAULT_EXIM_ROOT)


def _run(argv: Sequence[str], timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, check=False, stdin=None
    )


def missing(mta: Mta) -> str | None:
    """Why ``mta`` cannot be started here, or None if it can."""
    if os.geteuid() != 0:
        return f"{mta} needs root to start (Postfix's master, Exim's {EXIM_USER} user)"
    if mta == "postfix":
        if shutil.which("postfix", path="/usr/sbin:/usr/bin") is None:
            return "Debian's postfix package is not installed (.ci/run installs it)"
        for path in ("/usr/share/postfix/main.cf.debian", "/usr/share/postfix/master.cf.dist"):
            if not Path(path).is_file():
                return f"postfix's {path} is missing"
        return None
    binary = exim_root() / "usr/sbin/exim4"
    if not binary.is_file():
        return (
            f"Exim's package files are not unpacked at {exim_root()} (.ci/run: apt-get "
            "download exim4-daemon-light exim4-base exim4-config, dpkg-deb -x)"
        )
    try:
        pwd.getpwnam(EXIM_USER)
    except KeyError:
        return f"the {EXIM_USER} user Debian's Exim runs as does not exist"
    version = _run([str(binary), "-bV", "-C", "/dev/null"])
    if "Exim version" not in version.stdout:
        detail = (version.stderr or version.stdout).strip().splitlines()
        return f"{binary} does not run: {detail[0] if detail else version.returncode}"
    return None


def zone_text(listeners: Sequence[RealListener] = LISTENERS) -> str:
    """The lab zone for the listeners: each domain's MX and its host's address."""
    lines = [
        f"; Real MTAs on loopback (pytest_govmail.lab.real_mtas).\n$ORIGIN {ZONE_ORIGIN}.\n",
        "@ 3600 IN SOA ns1.lab-dns.example. hostmaster.lab-dns.example. 2026120301 3600 600 "
        "604800 300\n@ 3600 IN NS ns1.lab-dns.example.\n",
    ]
    for listener in listeners:
        label = listener.name
        lines.append(f"{label} 3600 IN MX 10 mx.{label}.{ZONE_ORIGIN}.\n")
        lines.append(f"mx.{label} 3600 IN A {listener.address}\n")
    return "".join(lines)


def _free_port(addresses: Sequence[str]) -> int:
    """A port number free on every address (the first address's kernel pick, checked on all)."""
    for _attempt in range(50):
        with contextlib.ExitStack() as stack:
            first = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            first.bind((addresses[0], 0))
            port = int(first.getsockname()[1])
            try:
                for address in addresses[1:]:
                    sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                    sock.bind((address, port))
            except OSError:
                continue
            return port
    raise OSError("no port free on every real-MTA address")


def _listening(address: str, port: int) -> bool:
    """Whether something listens on (address, port), found without connecting to it.

    A connection would be a client the server logs (and postscreen judges); binding the same
    address and port fails while a listener holds it.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return True
    return False


def _write(path: Path, text: str, mode: int = 0o644, owner: str | None = None) -> Path:
    path.write_text(text, encoding="ascii")
    path.chmod(mode)
    if owner is not None:
        entry = pwd.getpwnam(owner)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


@dataclass
class RunningMta:
    """One started server: its listener, folder, process and log."""

    listener: RealListener
    folder: Path
    process: subprocess.Popen[bytes]
    log: Path
    stop_argv: tuple[str, ...] = ()

    def log_text(self) -> str:
        try:
            return self.log.read_text("utf-8", errors="replace")
        except OSError:
            return ""


class RealMtaLab(StartStop):
    """The real MTAs of ``listeners`` that can run here, started on one port, stopped together.

    Listeners whose program is :func:`missing` are left out, with the reason in
    :attr:`skipped`; :attr:`running` has the others by name once started.
    """

    def __init__(
        self,
        pki: LabPki,
        listeners: Sequence[RealListener] = LISTENERS,
        folder: Path | None = None,
    ) -> None:
        self.pki = pki
        self.private_ca = PrivateCa("pytest-govmail real MTA lab private CA")
        self.listeners = tuple(listeners)
        self._own_folder = folder is None
        self.folder = folder or Path(tempfile.mkdtemp(prefix="govmail-mtas-"))
        self.folder.chmod(0o755)  # postfix and Debian-exim reach their data through it
        self.port = 0
        self.running: dict[str, RunningMta] = {}
        self.skipped: dict[str, str] = {}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> RealMtaLab:
        reasons = {mta: missing(mta) for mta in {listener.mta for listener in self.listeners}}
        wanted = [listener for listener in self.listeners if reasons[listener.mta] is None]
        for listener in self.listeners:
            reason = reasons[listener.mta]
            if reason is not None:
                self.skipped[listener.name] = reason
        if not wanted:
            return self
        self.port = _free_port([listener.address for listener in wanted])
        try:
            for listener in wanted:
                starter = self._start_postfix if listener.mta == "postfix" else self._start_exim
                self.running[listener.name] = starter(listener)
            for mta in self.running.values():
                self._wait_listening(mta)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for mta in self.running.values():
            if mta.stop_argv:
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    _run(mta.stop_argv, timeout=STOP_TIMEOUT)
            if mta.process.poll() is None:
                mta.process.terminate()
        for mta in self.running.values():
            try:
                mta.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                mta.process.kill()
                mta.process.wait(STOP_TIMEOUT)
        deadline = time.monotonic() + STOP_TIMEOUT
        for mta in self.running.values():  # children (smtpd, Exim's forks) may outlive a moment
            while _listening(mta.listener.address, self.port) and time.monotonic() < deadline:
                time.sleep(0.05)
        self.running = {}
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _wait_listening(self, mta: RunningMta) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not _listening(mta.listener.address, self.port):
            if mta.process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(mta.log_text().splitlines()[-15:])
                raise RuntimeError(
                    f"{mta.listener.name} did not start listening on "
                    f"{mta.listener.address}:{self.port} (exit {mta.process.poll()}):\n{tail}"
                )
            time.sleep(0.05)

    # ------------------------------------------------------------------ certificates

    def _leaf(self, listener: RealListener) -> LeafCert:
        names = [listener.host]
        if listener.certificate == "self-signed":
            # Without an Authority Key Identifier, as the self-signed certificate a Postfix
            # admin often serves has none (issue 19's fifth fault: a validator's missing-AKI
            # text must not stand in for "self-signed, not trusted").
            return self.pki.issue_leaf(names, self_signed=True, authority_key_identifier=False)
        if listener.certificate == "expired":
            # Signed by a private CA made today, as an admin's ``openssl req -x509`` CA is:
            # there is no instant when the leaf and its CA were both valid.
            return self.private_ca.issue(names, valid_from_days=-400, valid_until_days=-30)
        return self.pki.issue_leaf(names)

    @staticmethod
    def _served_chain(listener: RealListener, leaf: LeafCert) -> str:
        """What the server sends: the leaf and its intermediate (a private CA's leaf: alone).

        The private CA is a trust anchor of the CA file (:meth:`write_ca_file`), so its leaf
        alone is a complete chain (RFC 8446 section 4.4.2 lets a server omit what the client
        already has): only its dates are wrong.
        """
        return leaf.chain_pem()

    def write_ca_file(self, path: Path) -> Path:
        """The lab's root and the private CA: the ``--govmail-ca-file`` to give."""
        _write(path, self.pki.ca_pem + self.private_ca.pem)
        return path

    # ------------------------------------------------------------------ Postfix

    def _start_postfix(self, listener: RealListener) -> RunningMta:
        base = self.folder / listener.name
        conf, queue, data = base / "conf", base / "queue", base / "data"
        for folder in (base, conf, queue, data):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o755)
        postfix = pwd.getpwnam("postfix")
        os.chown(data, postfix.pw_uid, postfix.pw_gid)
        leaf = self._leaf(listener)
        chain = _write(conf / "chain.pem", self._served_chain(listener, leaf))
        key = _write(conf / "key.pem", leaf.key_pem, mode=0o600)
        if listener.dh_bits is not None:
            (conf / f"dh{listener.dh_bits}.pem").write_bytes(dh_parameters_pem(listener.dh_bits))
        log = base / "maillog"
        debian = Path("/usr/share/postfix/main.cf.debian").read_text("utf-8")
        tls = Path("/usr/share/postfix/main.cf.tls").read_text("utf-8")
        tls = tls.replace("/etc/ssl/certs/ssl-cert-snakeoil.pem", str(chain))
        tls = tls.replace("/etc/ssl/private/ssl-cert-snakeoil.key", str(key))
        instance = [
            "",
            "# This instance (pytest_govmail.lab.real_mtas): its name, paths and address.",
            f"myhostname = {listener.host}",
            "mydestination = $myhostname, localhost",
            f"mynetworks = {listener.address}/32",
            "inet_interfaces = loopback-only",
            "inet_protocols = ipv4",
            "alias_maps =",
            "alias_database =",
            f"queue_directory = {queue}",
            f"data_directory = {data}",
            f"maillog_file_prefixes = {base}",
            f"maillog_file = {log}",
            "smtpd_peername_lookup = no",
        ]
        if listener.settings:
            instance += ["", f"# {listener.story}", *listener.settings]
        _write(conf / "main.cf", debian + tls + "\n".join(instance) + "\n")
        _write(conf / "master.cf", self._master_cf(listener))
        argv = ("postfix", "-c", str(conf))
        # start-fg checks the configuration and makes the queue's directories itself.
        process = subprocess.Popen(
            [*argv, "start-fg"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return RunningMta(listener, base, process, log, stop_argv=(*argv, "stop"))

    def _master_cf(self, listener: RealListener) -> str:
        """The package's ``master.cf``, its smtp service bound to the listener's address."""
        text = Path("/usr/share/postfix/master.cf.dist").read_text("utf-8")
        service = f"{listener.address}:{self.port}"
        lines = []
        for line in text.splitlines():
            commented = line.startswith("#")
            fields = line.lstrip("#").split()
            service_line = len(fields) == 8 and fields[1] in ("inet", "pass", "unix")
            if not service_line:
                pass
            elif fields[:2] == ["smtp", "inet"] and fields[-1] == "smtpd" and not commented:
                line = f"#{line}" if listener.postscreen else f"{service} {line.split(None, 1)[1]}"
            elif listener.postscreen and commented:
                if fields[:2] == ["smtp", "inet"] and fields[-1] == "postscreen":
                    line = f"{service} {line[1:].split(None, 1)[1]}"
                elif fields[:2] in (["smtpd", "pass"], ["dnsblog", "unix"], ["tlsproxy", "unix"]):
                    line = line[1:]
            lines.append(line)
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ Exim

    def _start_exim(self, listener: RealListener) -> RunningMta:
        root = exim_root()
        base = self.folder / listener.name
        conf, spool, logs = base / "conf", base / "spool", base / "log"
        shutil.copytree(root / "etc/exim4", conf)
        for folder in (base, spool, logs):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o755)
        exim = pwd.getpwnam(EXIM_USER)
        for folder in (spool, logs):
            os.chown(folder, exim.pw_uid, exim.pw_gid)
        leaf = self._leaf(listener)
        chain = _write(
            conf / "exim.crt", self._served_chain(listener, leaf), mode=0o640, owner=EXIM_USER
        )
        key = _write(conf / "exim.key", leaf.key_pem, mode=0o640, owner=EXIM_USER)
        # debconf's answers for an internet site (update-exim4.conf.conf, as the package's
        # config script writes it), listening on this listener's address and port only.
        _write(
            conf / "update-exim4.conf.conf",
            "dc_eximconfig_configtype='internet'\n"
            f"dc_other_hostnames='{listener.domain}'\n"
            f"dc_local_interfaces='{listener.address}.{self.port}'\n"
            "dc_readhost=''\ndc_relay_domains=''\ndc_minimaldns='false'\ndc_relay_nets=''\n"
            "dc_smarthost=''\nCFILEMODE='644'\ndc_use_split_config='false'\n"
            "dc_hide_mailname=''\ndc_mailname_in_oh='true'\ndc_localdelivery='mail_spool'\n",
        )
        # README.Debian's way to turn on TLS, plus this instance's name, spool and log.
        macros = _write(
            conf / "exim4.conf.localmacros",
            "MAIN_TLS_ENABLE = yes\n"
            f"MAIN_TLS_CERTIFICATE = {chain}\n"
            f"MAIN_TLS_PRIVATEKEY = {key}\n"
            f"MAIN_HARDCODE_PRIMARY_HOSTNAME = {listener.host}\n"
            "MAIN_HOST_LOOKUP =\n"
            f"SPOOLDIR = {spool}\n"
            f"log_file_path = {logs}/%slog\n",
        )
        generated = base / "exim4.conf.generated"
        update = _run(
            ["sh", str(root / "usr/sbin/update-exim4.conf"), "-d", str(conf), "-o", str(generated)]
        )
        if update.returncode != 0:
            raise RuntimeError(f"update-exim4.conf ({listener.name}): {update.stderr}")
        # update-exim4.conf looks for the local macros under /etc/exim4 only; put them where it
        # would have (first), and let Exim re-execute this binary rather than /usr/sbin/exim4.
        text = macros.read_text("ascii") + generated.read_text("utf-8")
        text = text.replace("exim_path = /usr/sbin/exim4", f"exim_path = {root}/usr/sbin/exim4")
        config = _write(base / "exim4.conf", text)
        binary = str(root / "usr/sbin/exim4")
        check = _run([binary, "-C", str(config), "-bV"])
        if check.returncode != 0:
            raise RuntimeError(f"exim4 -bV ({listener.name}): {check.stderr or check.stdout}")
        process = subprocess.Popen(
            [binary, "-C", str(config), "-bdf"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return RunningMta(listener, base, process, logs / "mainlog")


#: The requirements a run over the listeners is compared on with testssl.sh, and the marker
#: expression that selects them.
REQUIREMENTS = (
    "MX-04",
    *(f"TLS-{n:02d}" for n in range(1, 11)),
    *(f"CERT-{n:02d}" for n in range(1, 8)),
)
COMPARED = "tls or cert or requirement(id='MX-04')"


@dataclass(frozen=True)
class GovmailRun:
    """A finished pytest-govmail run: its process and the JUnit XML and evidence it wrote."""

    process: subprocess.CompletedProcess[str]
    junit: Path
    evidence: Path


@dataclass
class RealMtaDeployment:
    """Running MTAs, the DNS server with their zone, and the CA file that anchors them."""

    mtas: RealMtaLab
    dns: LabDnsServer
    ca_file: Path

    @property
    def nameserver(self) -> str:
        host, port = self.dns.address
        return f"{host}:{port}"

    @property
    def listeners(self) -> tuple[RealListener, ...]:
        """The listeners that are running (those whose program could start)."""
        return tuple(x for x in self.mtas.listeners if x.name in self.mtas.running)

    def targets(self) -> tuple[Target, ...]:
        return tuple(Target(x.domain, source=f"real MTA: {x.story}") for x in self.listeners)

    def cli_args(self, timeout: float | None = None, smtp_port: int | None = None) -> list[str]:
        """Options pointing a govmail run at these servers (the default timeout unless given;
        the MTAs' own port unless ``smtp_port`` names one in front of them, e.g. a relay)."""
        args = [
            f"--govmail-nameserver={self.nameserver}",
            f"--govmail-smtp-port={smtp_port or self.mtas.port}",
            f"--govmail-ca-file={self.ca_file}",
            "--govmail-allow-private",
        ]
        if timeout is not None:
            args.append(f"--govmail-timeout={timeout:g}")
        return args

    def run_govmail(
        self, folder: Path, smtp_port: int | None = None, timeout: float = 600
    ) -> GovmailRun:
        """One pytest-govmail run of this checkout over every running listener, on the
        requirements compared with testssl.sh (:data:`COMPARED`), at the default timeouts.

        The test of these listeners and the bench that times them against testssl.sh both run
        it. This checkout goes first on the path whatever the working directory (a relative
        ``PYTHONPATH`` would not follow the run to ``folder``), and the caller's
        ``PYTEST_ADDOPTS`` stays out of the inner run."""
        junit, evidence = folder / "junit.xml", folder / "evidence.json"
        root = str(Path(__file__).resolve().parents[2])
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:randomly",
                "-q",
                *self.cli_args(smtp_port=smtp_port),
                *(f"--govmail-domain={x.domain}" for x in self.listeners),
                "-m",
                COMPARED,
                f"--junitxml={junit}",
                f"--govmail-evidence-out={evidence}",
                "--govmail-no-reports",
            ],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return GovmailRun(result, junit, evidence)

    def stop(self) -> None:
        self.dns.stop()
        self.mtas.stop()


def start_real_mta_lab(
    listeners: Sequence[RealListener] = LISTENERS,
    extra_zones: Mapping[str, str] | None = None,
) -> RealMtaDeployment:
    """Start the listeners that can run here, and a lab DNS server serving their zone."""
    pki = LabPki("pytest-govmail real MTA lab")
    mtas = RealMtaLab(pki, listeners).start()
    try:
        ca_file = mtas.write_ca_file(mtas.folder / "lab-ca.pem")
        zones = {ZONE_ORIGIN: zone_text(listeners), **(extra_zones or {})}
        dns = LabDnsServer(zones, host="127.0.0.1", port=0).start()
    except BaseException:
        mtas.stop()
        raise
    return RealMtaDeployment(mtas, dns, ca_file)


def main() -> None:
    """``python -m pytest_govmail.lab.real_mtas``: run the servers until interrupted.

    SIGTERM stops them as Ctrl-C does (a background job does not get SIGINT).
    """
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    deployment = start_real_mta_lab()
    try:
        for name, reason in deployment.mtas.skipped.items():
            print(f"{name}: not started: {reason}")
        for listener in deployment.listeners:
            print(f"{listener.name}: {listener.host} {listener.address}:{deployment.mtas.port}")
        print(
            "pytest",
            *deployment.cli_args(),
            *(f"--govmail-domain={t.domain}" for t in deployment.targets()),
            flush=True,
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        deployment.stop()


if __name__ == "__main__":
    main()
