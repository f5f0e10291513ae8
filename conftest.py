"""The repository's own test configuration (the project's tests live in tests/).

pytest reads this file for every run started in this checkout, the demo's included, so it holds
settings only, no fixtures: an autouse fixture here would reach the packaged suites in suites/
too. Fixtures for the project's tests are in tests/conftest.py.
"""

from __future__ import annotations

# Imported before any in-process pytester run on purpose: pytester restores sys.modules after
# each inline run, so a module first imported inside one run is imported afresh in the next.
# For asyncio that splits its Python half from its C half (the C Task keeps raising the first
# import's CancelledError, which the second import's wait_for() cannot catch), and a DNS
# timeout then surfaces as a CancelledError. Real runs import these once and never see it.
import asyncio  # noqa: F401
import os

# The same for cryptography's x509 and serialization modules, which the judges import only
# where a certificate is read, so that an inline replay may be the first to load them: imported
# afresh after it, their enums are no longer those the Rust half checks against, and the lab's
# PKI fails ("encoding must be an item from the Encoding enum").
import cryptography.hazmat.primitives.serialization
import cryptography.x509  # noqa: F401
import dns.asyncresolver  # noqa: F401

#: Not test modules: benchmarks and build output.
collect_ignore = ["bench", "build"]

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # the demo needs no test extras
    pass
else:
    # CI machines are shared and slow at times: a fuzzing example that takes long is not a
    # failure there, and the examples are the same on every run so that a failure reproduces.
    settings.register_profile(
        "ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
    )
    if os.environ.get("CI"):
        settings.load_profile("ci")
