"""Monitoring areas: each is a function (snapshot, as_of, ruleset) -> AreaResult.

Order matters: the cross-cutting areas read what the others wrote for the same day, so
they come last.
"""

from __future__ import annotations

from collections.abc import Callable

from hypercare.areas import (
    ai,
    billing,
    contract,
    crosscutting,
    customer,
    handoff,
    ownership,
    provisioning,
    trigger,
    writeback,
)

AREAS: dict[str, Callable] = {
    "trigger": trigger.evaluate,
    "handoff": handoff.evaluate,
    "ownership": ownership.evaluate,
    "customer": customer.evaluate,
    "billing": billing.evaluate,
    "provisioning": provisioning.evaluate,
    "ai": ai.evaluate,
    "writeback": writeback.evaluate,
    "contract": contract.evaluate,
    "audit": crosscutting.evaluate_audit,
    "backlog": crosscutting.evaluate_backlog,
}
