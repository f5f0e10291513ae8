"""How the lab's servers come up and go down: started at most once, stopped at once, anywhere.

:class:`~pytest_govmail.lab.dns_server.LabDnsServer`,
:class:`~pytest_govmail.lab.smtp_server.LabSmtpServer` and
:class:`~pytest_govmail.lab.https_server.LabHttpsServer` serve different protocols from different
sockets, but their lifecycle must be the same, and it is subtle enough that three copies would
drift apart:

* A state lock and ``"new" -> "running" -> "stopped"``, so a server is started at most once (a
  stopped server's port may already belong to someone else) and :meth:`LabServerLifecycle.stop`
  is idempotent and safe from any thread (fixtures, ``atexit`` and test bodies all call it).
* A wake-up socketpair that each server registers in its selector-based accept or serve loop:
  :meth:`~LabServerLifecycle.stop` writes one byte to it, so the loop notices the stop event at
  once instead of on a polling interval.
* Joins bounded by :data:`JOIN_TIMEOUT`, so a wedged thread costs a test two seconds rather than
  hanging it; connection threads are woken (by shutting their sockets down) before being joined,
  and each closes its own socket.

What differs stays with each server, behind hooks: which sockets it binds, which threads it runs,
how its connections are registered and how one is woken.
"""

from __future__ import annotations

import abc
import contextlib
import socket
import threading
from types import TracebackType
from typing import ClassVar, Generic, Self, TypeVar

__all__ = ["JOIN_TIMEOUT", "LabServerLifecycle", "StartStop", "tcp_listener"]

#: Seconds :meth:`LabServerLifecycle.stop` waits for each thread it joins.
JOIN_TIMEOUT = 2.0

_Conn = TypeVar("_Conn")
"""What a server registers per connection (a socket, or the channel that owns one)."""


def tcp_listener(host: str, port: int) -> socket.socket:
    """A non-blocking TCP listener on ``(host, port)``, IPv6 if ``host`` is an IPv6 address.

    ``SO_REUSEADDR`` only lets a restarted lab skip TIME_WAIT leftovers; it never shares a live
    listener. The socket is closed if binding fails, so a failed start leaks no descriptor.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class StartStop(abc.ABC):
    """Usable in a ``with`` block: started on entry, stopped on exit, even when the body raises.

    Split from :class:`LabServerLifecycle` because a group of servers (the SMTP fleet) has the
    same protocol without having sockets or a state of its own.
    """

    @abc.abstractmethod
    def start(self) -> Self:
        """Start serving and return ``self``."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop serving; safe to call more than once."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class LabServerLifecycle(StartStop, Generic[_Conn]):
    """Start/stop state, stop event, wake-up socketpair and joins, for one server.

    A subclass sets :attr:`_name` (used in error messages), calls ``super().__init__()``, sets
    ``_host`` and, in :meth:`_open_sockets`, ``_port``; it registers :attr:`_wake_r` in its
    selector and ends its loops when :attr:`_stop_event` is set.
    """

    _name: ClassVar[str]
    """The server's class name as error messages give it."""
    _host: str
    _port: int

    def __init__(self) -> None:
        self._state_lock = threading.Lock()
        self._state = "new"  # new -> running -> stopped; a server is started at most once
        self._stop_event = threading.Event()
        self._sockets: list[socket.socket] = []
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` the server listens on (after :meth:`start`: ``port=0`` picks one)."""
        if self._state == "new":
            raise RuntimeError(f"{self._name} is not started: the port is chosen by start()")
        return (self._host, self._port)

    def start(self) -> Self:
        """Bind the server's sockets and start serving in daemon threads; once only."""
        with self._state_lock:
            if self._state != "new":
                raise RuntimeError(f"{self._name} cannot be started: it is {self._state}")
            self._sockets = self._open_sockets()
            self._wake_r, self._wake_w = socket.socketpair()
            self._wake_r.setblocking(False)
            self._state = "running"
        self._threads = self._serving_threads()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end every connection and release the port(s). Idempotent and quick."""
        with self._state_lock:
            was_running = self._state == "running"
            self._state = "stopped"
        if not was_running:
            return
        self._stop_event.set()
        assert self._wake_w is not None
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._on_stop()
        for thread in self._threads:
            thread.join(JOIN_TIMEOUT)
        conns = self._open_connections()
        for conn, _ in conns:
            with contextlib.suppress(OSError):  # wakes the thread, which closes its own socket
                self._interrupt(conn)
        for _, thread in conns:
            thread.join(JOIN_TIMEOUT)
        for sock in (*self._sockets, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()

    # ----------------------------------------------------------------- hooks

    @abc.abstractmethod
    def _open_sockets(self) -> list[socket.socket]:
        """Bind and return the sockets :meth:`stop` closes (called under the state lock).

        Raising leaves the server ``"new"``, so a caller may retry on another port.
        """

    @abc.abstractmethod
    def _serving_threads(self) -> list[threading.Thread]:
        """The (not yet started) threads that serve; :meth:`stop` joins them first."""

    def _on_stop(self) -> None:
        """Release what serving threads wait on besides the wake socket; runs before the joins."""

    @abc.abstractmethod
    def _open_connections(self) -> list[tuple[_Conn, threading.Thread]]:
        """A snapshot of the connections being served, each with its thread."""

    @abc.abstractmethod
    def _interrupt(self, conn: _Conn) -> None:
        """Wake the thread serving ``conn`` (``OSError`` is ignored: it may be gone already)."""
