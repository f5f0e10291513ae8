"""The TLS half of one address scan: STARTTLS sessions, handshakes and the version probes.

Handshakes use nassl (sslyze's OpenSSL bindings) directly: for each version the client offers
every suite it has (:mod:`pytest_govmail.collect.suites`), records the server's choice, removes
it and repeats until the server refuses (see :mod:`pytest_govmail.collect.tls` for the whole
method and its bounds). :class:`_Handshaker` is the base of ``collect.tls._AddressScan``, which
adds the address check, the trust check and the assembly of the :class:`TlsScan`.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, cast

from nassl._nassl import OpenSSLError
from nassl.ephemeral_key_info import DhEphemeralKeyInfo, EcDhEphemeralKeyInfo, EphemeralKeyInfo
from nassl.legacy_ssl_client import LegacySslClient
from nassl.ssl_client import (
    BaseSslClient,
    ClientCertificateRequested,
    OpenSslVerifyEnum,
    SslClient,
)

from pytest_govmail.collect.smtp import (
    _Clock,
    _looks_like_tls,
    _Opened,
    _preview,
    _SmtpFailure,
    _SmtpSession,
    _TimedSocket,
)
from pytest_govmail.collect.suites import (
    _ALL_SUITES,
    _NASSL_VERSION,
    _TLS13_SUITES,
    _suites,
    iana_name,
    modern_cipher_string,
)
from pytest_govmail.model.dns import ErrorKind, ProbeError
from pytest_govmail.model.tls import KeyExchange, SmtpDialogue, TlsVersion, VersionProbe

if TYPE_CHECKING:
    from pytest_govmail.collect.scan_settings import ScanRequest, TlsScanSettings

_GROUPS = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
#: A handshake's detail when the server cut it off without a TLS alert (a reset, or a close):
#: :mod:`.tls` tells such a drop from a refusal by these words.
DROPPED_RESET = "connection reset during the handshake"
DROPPED_CLOSED = "server closed the connection in the handshake"


_HandshakeStatus = Literal["ok", "refused", "unknown"]


@dataclass(slots=True)
class _Handshake:
    status: _HandshakeStatus
    cipher: str | None = None
    detail: str = ""
    chain: tuple[str, ...] = ()
    key: EphemeralKeyInfo | None = None
    compression: bool | None = None
    secure_renegotiation: bool | None = None
    client_renegotiation: bool | None = None
    retries: int = 0
    retried: str = ""
    #: How it was asked (the client and the suites offered), so that another name's handshake
    #: at the same address can ask the same question (see ``collect.tls``).
    legacy: bool = False
    offer: tuple[str, ...] = ()


@dataclass(slots=True)
class _Pass:
    """What one client's elimination pass over one version found."""

    found: list[str] = field(default_factory=list)
    #: The key exchange of each found suite's own handshake (OpenSSL name -> what it showed).
    kex: dict[str, KeyExchange | None] = field(default_factory=dict)
    first: _Handshake | None = None
    refusal: str = ""
    unknown: str = ""
    retries: int = 0
    retried: str = ""


@dataclass(slots=True)
class _VersionResult:
    probe: VersionProbe
    preferred: _Handshake | None = None
    legacy_first: _Handshake | None = None


class _Handshaker:
    """The connections of one address scan: SMTP up to STARTTLS, handshakes, version probes.

    ``collect.tls._AddressScan`` subclasses it and sets these attributes in its ``__init__``.
    """

    request: ScanRequest
    settings: TlsScanSettings
    connections: int
    handshakes: int
    retries: int
    _lock: threading.Lock
    _spare: _Opened | None
    _throttled: threading.Event
    _serial: threading.Lock
    _non_tls: str | None
    _sni: str | None

    # ----------------------------------------------------------------- accounting

    def _count(self, connections: int = 0, handshakes: int = 0, retries: int = 0) -> None:
        with self._lock:
            self.connections += connections
            self.handshakes += handshakes
            self.retries += retries

    # ----------------------------------------------------------------- SMTP

    def open(self) -> _Opened:
        """An SMTP session up to STARTTLS's 220, retrying with backoff and jitter what a busy
        server does (a 421 greeting, a drop before the greeting, a reset, a refused connect)."""
        settings = self.settings
        attempts = max(0, settings.max_retries) + 1
        result = _Opened(None)
        retried: list[ProbeError] = []
        for attempt in range(attempts):
            if attempt:
                self._throttled.set()
                self._count(retries=1)
                # Jitter (a quarter of the delay either way, the same on average) keeps a
                # run's many connections to one provider from coming back in step after it
                # pushed them all away at once.
                delay = settings.retry_backoff * 2 ** (attempt - 1)
                time.sleep(delay * random.uniform(0.75, 1.25))
            result, retry = self._open_once()
            if not retry:
                if retried:
                    result.retries = len(retried)
                    result.retried = retried[0].describe()[:100]
                return result
            if result.error is not None:
                retried.append(result.error)
        assert result.error is not None
        detail = f"{result.error.detail} ({attempts} attempts)"
        return _Opened(result.dialogue, None, ProbeError(result.error.kind, detail))

    def _open_once(self) -> tuple[_Opened, bool]:
        """One connection; ``(outcome, worth retrying)``. No TCP session: ``dialogue`` is None."""
        request, timeout = self.request, self.settings.timeout
        where = f"{_display(request.address)}:{request.port}"
        clock = _Clock.start(self.settings)
        timeout = min(timeout, clock.total)
        try:
            sock = socket.create_connection((request.address, request.port), timeout=timeout)
        except TimeoutError:
            error = ProbeError(
                ErrorKind.TIMEOUT, f"TCP connect to {where}: no answer in {timeout:g} s"
            )
            return _Opened(None, error=error), False
        except ConnectionRefusedError:
            # A provider shedding load refuses connects for a moment: worth a polite retry.
            error = ProbeError(ErrorKind.CONNECTION_REFUSED, f"TCP connect to {where} refused")
            return _Opened(None, error=error), True
        except ConnectionResetError:
            error = ProbeError(ErrorKind.CONNECTION_REFUSED, f"TCP connect to {where} reset")
            return _Opened(None, error=error), True
        except OSError as exc:
            error = ProbeError(ErrorKind.OTHER, f"TCP connect to {where}: {exc.strerror or exc}")
            return _Opened(None, error=error), False
        self._count(connections=1)
        session = _SmtpSession(sock, self.settings, clock)
        try:
            opened, retry = session.converse()
        except _SmtpFailure as failure:
            opened, retry = _Opened(session.dialogue, error=failure.error), failure.retry
        if opened.sock is None:
            with contextlib.suppress(OSError):
                sock.close()
        return opened, retry

    # ----------------------------------------------------------------- TLS

    def handshake(
        self,
        version: TlsVersion,
        legacy: bool,
        offer: Sequence[str],
        extras: bool = False,
        renegotiate: bool = False,
    ) -> _Handshake:
        """One connection and one handshake offering ``offer`` (OpenSSL names, in order).

        ``extras`` reads compression and secure renegotiation (legacy client only, no cost);
        ``renegotiate`` then tries one client-initiated renegotiation on the same connection.
        """
        with self._lock:
            opened, self._spare = self._spare, None
        if opened is not None:
            return self._handshake_on(opened, version, legacy, offer, extras, renegotiate)
        # After a throttling retry, one connection at a time (it is the server's wish, and it
        # keeps a server that refuses every other connection from starving one worker).
        gate: contextlib.AbstractContextManager[Any] = (
            self._serial if self._throttled.is_set() else contextlib.nullcontext()
        )
        with gate:
            if self._non_tls is not None:
                return _Handshake("unknown", detail=f"not tried: {self._non_tls}")
            opened = self.open()
            if opened.sock is None:
                why = opened.error.describe() if opened.error else _no_tls_reason(opened.dialogue)
                return _Handshake("unknown", detail=f"no STARTTLS session: {why}")
            return self._handshake_on(opened, version, legacy, offer, extras, renegotiate)

    def _handshake_on(
        self,
        opened: _Opened,
        version: TlsVersion,
        legacy: bool,
        offer: Sequence[str],
        extras: bool,
        renegotiate: bool,
    ) -> _Handshake:
        """One handshake on a session that STARTTLS's 220 has just opened."""
        assert opened.sock is not None and opened.clock is not None
        timed = _TimedSocket(opened.sock, opened.clock, opened.pending)
        try:
            client = self._client(version, legacy, offer, timed)
        except (OpenSSLError, OSError, ValueError) as exc:
            timed.close()
            return _Handshake("unknown", detail=f"could not set up the TLS client: {exc}")
        self._count(handshakes=1)
        try:
            timed.begin()
            outcome = self._do_handshake(client, timed)
            outcome.legacy, outcome.offer = legacy, tuple(offer)
            if outcome.status == "ok":
                # An anonymous suite (aNULL, which TLS-06 must see) presents no certificate.
                with contextlib.suppress(ValueError):
                    outcome.chain = tuple(client.get_received_chain())
                outcome.key = client.get_ephemeral_key()
                if extras and isinstance(client, LegacySslClient):
                    outcome.compression = bool(client.get_current_compression_method())
                    outcome.secure_renegotiation = client.get_secure_renegotiation_support()
                    if renegotiate:
                        timed.begin()
                        outcome.client_renegotiation = self._renegotiate(client)
            elif not _looks_like_tls(timed.head):
                shown = _preview(timed.head, timed.received)
                detail = f"server sent non-TLS data after STARTTLS 220: {shown}"
                with self._lock:
                    self._non_tls = self._non_tls or detail
                outcome = _Handshake("unknown", detail=detail)
        except (OpenSSLError, OSError) as exc:  # reading facts off a session that just died
            outcome = _Handshake("unknown", detail=f"session failed after the handshake: {exc}")
        finally:
            timed.begin()
            _close(client, timed, outcome_ok=client.is_handshake_completed())
        outcome.retries, outcome.retried = opened.retries, opened.retried
        return outcome

    def _client(
        self, version: TlsVersion, legacy: bool, offer: Sequence[str], timed: _TimedSocket
    ) -> BaseSslClient:
        nassl_version = _NASSL_VERSION[version]
        sock = cast(socket.socket, timed)  # nassl only calls recv, send and close
        client: BaseSslClient
        if legacy:
            client = LegacySslClient(
                underlying_socket=sock,
                ssl_version=nassl_version,
                ssl_verify=OpenSslVerifyEnum.NONE,
                ignore_client_authentication_requests=True,
            )
            client.set_cipher_list(":".join(offer))
        else:
            modern = SslClient(
                underlying_socket=sock,
                ssl_version=nassl_version,
                ssl_verify=OpenSslVerifyEnum.NONE,
                ignore_client_authentication_requests=True,
            )
            # Security level 0 (see collect.suites): else OpenSSL leaves anonymous suites out of
            # the ClientHello and refuses small DH groups, and the probe could not see them.
            if version is TlsVersion.TLS_1_3:
                modern.set_cipher_list(modern_cipher_string(_ALL_SUITES))
                modern.set_ciphersuites(":".join(offer))
            else:
                modern.set_cipher_list(modern_cipher_string(":".join(offer)))
            client = modern
        if self._sni is not None and version is not TlsVersion.SSL_2_0:
            client.set_tlsext_host_name(self._sni)
        return client

    def _do_handshake(self, client: BaseSslClient, timed: _TimedSocket) -> _Handshake:
        try:
            client.do_handshake()
        except ClientCertificateRequested:
            cipher = _current_cipher(client)
            if cipher:
                return _Handshake("ok", cipher=cipher, detail="server asked for a client cert")
            return _Handshake("unknown", detail="server requires a client certificate")
        except TimeoutError:
            return _Handshake("unknown", detail=timed.late("handshake answer"))
        except OpenSSLError as exc:
            message = _openssl_message(exc)
            if "dh key too small" in message:
                cipher = _current_cipher(client)
                if cipher:  # the server chose the suite; our OpenSSL refused its DH group
                    return _Handshake("ok", cipher=cipher, detail="DH group too small")
            if "no ciphers available" in message or "no cipher match" in message:
                return _Handshake("unknown", detail=f"client could not offer the suites: {message}")
            return _Handshake("refused", detail=message)
        except (ConnectionResetError, BrokenPipeError):
            return _Handshake("refused", detail=DROPPED_RESET)
        except OSError as exc:
            if "peer did not send data back" in str(exc):
                return _Handshake("refused", detail=DROPPED_CLOSED)
            return _Handshake("unknown", detail=f"handshake failed: {exc}")
        cipher = _current_cipher(client)
        if not cipher:
            return _Handshake("unknown", detail="handshake completed without a cipher suite")
        return _Handshake("ok", cipher=cipher)

    def _renegotiate(self, client: LegacySslClient) -> bool | None:
        """Try one client-initiated renegotiation on an established connection."""
        self._count(handshakes=1)
        try:
            client.do_renegotiate()
        except TimeoutError:
            return False  # some servers ignore the request (sslyze reads this as refused)
        except (OpenSSLError, OSError, ClientCertificateRequested):
            return False
        return True

    # ----------------------------------------------------------------- versions

    def eliminate(
        self,
        version: TlsVersion,
        legacy: bool,
        offer: Sequence[str],
        extras: bool = False,
        renegotiate: bool = False,
        first_offer: Sequence[str] | None = None,
    ) -> _Pass:
        """Offer, record the choice, remove it, repeat until refused: accepted + 1 handshakes."""
        result = _Pass()
        remaining = list(offer)
        next_offer: Sequence[str] | None = first_offer
        while remaining or next_offer:
            attempt = next_offer if next_offer is not None else remaining
            next_offer = None
            first = not result.found
            shake = self.handshake(
                version, legacy, attempt, extras=extras and first, renegotiate=renegotiate and first
            )
            if result.first is None:
                result.first = shake
            result.retries += shake.retries
            result.retried = result.retried or shake.retried
            if shake.status == "refused":
                result.refusal = shake.detail
                break
            if shake.status == "unknown" or shake.cipher is None:
                result.unknown = shake.detail
                break
            if shake.cipher not in attempt:
                result.unknown = f"server chose {shake.cipher}, which was not offered"
                break
            if shake.cipher not in result.found:
                result.found.append(shake.cipher)
                result.kex[shake.cipher] = _key_exchange(shake)
            if shake.cipher in remaining:
                remaining.remove(shake.cipher)
        return result

    def probe(self, version: TlsVersion) -> _VersionResult:
        catalogue = _suites()
        if version is TlsVersion.TLS_1_3:
            passes = [self.eliminate(version, False, _TLS13_SUITES)]
            preferred = passes[0].first
            legacy_first = None
        elif version is TlsVersion.TLS_1_2:
            legacy_pass = self.eliminate(
                version, True, catalogue.legacy[version], extras=True, renegotiate=True
            )
            known = {catalogue.name(c) for c in legacy_pass.found}
            # A legacy pass that ended early proves nothing about the suites it did not reach.
            pool = catalogue.modern12_only if not legacy_pass.unknown else catalogue.modern12
            rest = [c for c in pool if catalogue.name(c) not in known]
            modern_pass = self.eliminate(version, False, rest, first_offer=catalogue.modern12)
            passes = [legacy_pass, modern_pass]
            modern_first = modern_pass.first
            preferred = modern_first if _ok(modern_first) else legacy_pass.first
            legacy_first = legacy_pass.first
        else:
            passes = [self.eliminate(version, True, catalogue.legacy[version], extras=True)]
            preferred = legacy_first = passes[0].first
        found: list[str] = []
        exchanges: list[KeyExchange] = []
        for one in passes:
            for cipher in one.found:
                name = catalogue.name(cipher, version)
                if name not in found:
                    found.append(name)
                    kex = one.kex.get(cipher)
                    if kex is not None:
                        exchanges.append(replace(kex, suite=name))
        unknown = "; ".join(p.unknown for p in passes if p.unknown)
        if found:
            accepted: bool | None = True
            detail = f"enumeration incomplete: {unknown}" if unknown else ""
        elif unknown:
            accepted, detail = None, unknown
        else:
            accepted = False
            detail = next((p.refusal for p in passes if p.refusal), "refused")
        unofferable = catalogue.unofferable.get(version, ())
        if unofferable:
            # What the client cannot offer, the server cannot be seen to accept.
            shown = ", ".join(unofferable[:5]) + (" ..." if len(unofferable) > 5 else "")
            note = f"the probe could not offer {len(unofferable)} suite(s): {shown}"
            detail = f"{detail}; {note}" if detail else note
        retries = sum(p.retries for p in passes)
        if retries:
            reason = next(p.retried for p in passes if p.retried)
            note = f"{retries} connection{'s' if retries > 1 else ''} retried after {reason}"
            detail = f"{detail}; {note}" if detail else note
        preferred_name = None
        if preferred is not None and preferred.status == "ok" and preferred.cipher:
            preferred_name = catalogue.name(preferred.cipher, version)
        probe = VersionProbe(
            version=version,
            accepted=accepted,
            detail=detail,
            cipher_suites=tuple(found),
            preferred=preferred_name,
            suites_complete=not (found and unknown) and not unofferable,
            key_exchanges=tuple(exchanges),
        )
        return _VersionResult(
            probe,
            preferred if _ok(preferred) else None,
            legacy_first if _ok(legacy_first) else None,
        )

    def renegotiation_followup(
        self, version: TlsVersion, cipher_names: Sequence[str]
    ) -> _Handshake:
        """A legacy handshake just for the renegotiation facts (when TLS 1.2 gave none)."""
        catalogue = _suites()
        offer = [c for c in catalogue.legacy[version] if catalogue.name(c, version) in cipher_names]
        return self.handshake(
            version, True, offer or catalogue.legacy[version], extras=True, renegotiate=True
        )

    # ----------------------------------------------------------------- the whole address


# --------------------------------------------------------------------------- helpers


def _ok(shake: _Handshake | None) -> bool:
    return shake is not None and shake.status == "ok"


def _display(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _no_tls_reason(dialogue: SmtpDialogue | None) -> str:
    if dialogue is None:
        return "no connection"
    if dialogue.starttls_offered is False:
        return "STARTTLS no longer advertised"
    if dialogue.starttls_reply:
        return f"STARTTLS answered {dialogue.starttls_reply.splitlines()[0]}"
    return "no STARTTLS"


def _current_cipher(client: BaseSslClient) -> str | None:
    try:
        name = client.get_current_cipher_name()
    except Exception:
        return None
    return name or None


def _openssl_message(exc: OpenSSLError) -> str:
    text = str(exc.args[0] if exc.args else exc).strip()
    # "error:1409442E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol version" -> the reason
    return text.rsplit(":", 1)[-1].strip() or text


def _close(client: BaseSslClient, timed: _TimedSocket, outcome_ok: bool) -> None:
    """End the session politely: QUIT over TLS when it is up, then close; never raise."""
    if outcome_ok:
        with contextlib.suppress(Exception):
            client.write(b"QUIT\r\n")
        with contextlib.suppress(Exception):
            client.shutdown()
    timed.close()


def _key_exchange(shake: _Handshake) -> KeyExchange | None:
    """The key exchange one handshake showed: the ephemeral key OpenSSL reports (sslyze reads
    the same per accepted suite), with the kind read from the suite's name where the key alone
    cannot tell it (an anonymous suite's DH key is no authenticated DHE)."""
    key = shake.key
    name = iana_name(shake.cipher or "")
    anonymous = name.startswith(("TLS_DH_anon_", "TLS_ECDH_anon_"))
    if isinstance(key, EcDhEphemeralKeyInfo):
        group = _GROUPS.get(key.curve_name, key.curve_name)
        return KeyExchange("ECDH_anon" if anonymous else "ECDHE", group=group)
    if isinstance(key, DhEphemeralKeyInfo):
        return KeyExchange("DH_anon" if anonymous else "DHE", bits=key.size)
    for prefix, kind in (
        ("TLS_ECDHE_", "ECDHE"),
        ("TLS_DHE_", "DHE"),
        ("TLS_ECDH_anon_", "ECDH_anon"),
        ("TLS_DH_anon_", "DH_anon"),
        ("TLS_ECDH_", "ECDH"),
        ("TLS_DH_", "DH"),
        ("TLS_RSA_", "RSA"),
    ):
        if name.startswith(prefix):
            return KeyExchange(kind)
    return None
