"""Monitoring areas: each is a function (snapshot, as_of, ruleset) -> AreaResult."""

from __future__ import annotations

from collections.abc import Callable

from hypercare.areas import contract, customer, handoff, ownership, trigger

AREAS: dict[str, Callable] = {
    "trigger": trigger.evaluate,
    "handoff": handoff.evaluate,
    "ownership": ownership.evaluate,
    "customer": customer.evaluate,
    "contract": contract.evaluate,
}
