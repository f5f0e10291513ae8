"""Under pytest-xdist, the evidence is collected once, by whichever worker asks first.

Every worker collects the same tests, so they need the same evidence in the same order. The
first worker to take the lock collects and writes what it holds to a file in a folder the
controller made; the others, waiting on the lock, read that file and find nothing left to ask.
The file is an ordinary evidence file whose ``collected`` setting lists what has been settled
(planner names, and ``:tls``/``:policies`` for the scans and fetches).
"""

from __future__ import annotations

import fcntl
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from pytest_govmail.model import evidence as evidence_file


class Collecting(Protocol):
    """What a run offers the share (:class:`~pytest_govmail.engine.run.GovmailRun` does)."""

    def resume(self, saved: evidence_file.Evidence, marks: Collection[str]) -> None: ...

    def settled_marks(self) -> list[str]: ...

    def to_evidence(self) -> evidence_file.Evidence: ...


class WorkerShare:
    """The shared folder of one xdist session: a lock file and the evidence collected so far."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def evidence_path(self) -> Path:
        return self.folder / "evidence.json"

    def saved(self) -> evidence_file.Evidence | None:
        """What the workers collected, once one of them has written it."""
        path = self.evidence_path
        return evidence_file.read(path) if path.exists() else None

    @contextmanager
    def collecting(self, run: Collecting) -> Iterator[None]:
        """Hold the lock while ``run`` collects, starting from what others already wrote."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                saved = self.saved()
                if saved is not None:
                    run.resume(saved, saved.settings.get("collected", "").split())
                yield
                evidence = run.to_evidence()
                settings = {**evidence.settings, "collected": " ".join(run.settled_marks())}
                evidence_file.write(replace(evidence, settings=settings), self.evidence_path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
