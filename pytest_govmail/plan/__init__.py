"""Which DNS questions a run must ask: pure functions from what is known so far to what to ask next.

A planner takes a target and the answers collected so far and returns every question it needs
*given those answers* (follow-ups such as SPF includes appear once the record that names them has
been answered). The collector asks the new questions, and repeats until no planner wants anything
new. Planners never touch the network, so the same planners tell replay what a run should hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pytest_govmail.model.dns import DnsView, Query
from pytest_govmail.model.target import Target

Planner = Callable[[Target, DnsView], Iterable[Query]]
