"""Silencing cryptography's warnings about remote certificates, safely across threads.

cryptography warns (CryptographyDeprecationWarning) when it parses a certificate that breaks
RFC 5280 in ways it still accepts, such as the non-positive serial numbers of a few roots in
sslyze's bundled Mozilla store. Those warnings are about remote data, not this code. Python's
warning filters are process-wide and ``warnings.catch_warnings`` is not thread-safe: two threads
entering and leaving it interleaved can leave the other's filters behind. The collectors parse
certificates from several threads (TLS scans and MTA-STS fetches run side by side), so every
one of them goes through this one lock.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from cryptography.utils import CryptographyDeprecationWarning

_lock = threading.RLock()


@contextmanager
def certificate_warnings_ignored() -> Iterator[None]:
    """Parse certificates inside this; the category and the message are both matched, since
    under pytester the warning class can be a re-imported copy."""
    with _lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        warnings.filterwarnings("ignore", message="Parsed a serial number")
        yield
