"""Counting the collector's open connections from its own side (the server's count lags).

Patched in as ``socket.create_connection`` by the tests that hold the per-address connection
cap (``tests/test_collect_tls.py``, ``tests/test_collect_tls_shared.py``).
"""

from __future__ import annotations

import socket
import threading


class CountingSocket(socket.socket):
    """A client socket that tells :class:`OpenCounter` when it is opened and closed."""

    counter: OpenCounter
    counted = False

    def close(self) -> None:
        if self.counted:
            self.counted = False
            self.counter.change(-1)
        super().close()


class OpenCounter:
    """Counts the collector's open connections, from its own side (the server's count lags)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open = 0
        self.peak = 0
        self.opened = 0

    def change(self, delta: int) -> None:
        with self.lock:
            self.open += delta
            self.opened += max(delta, 0)
            self.peak = max(self.peak, self.open)

    def create_connection(
        self, address: tuple[str, int], timeout: float | None = None, *args: object
    ) -> socket.socket:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        sock = CountingSocket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        sock.counter = self
        sock.counted = True
        self.change(+1)
        return sock
