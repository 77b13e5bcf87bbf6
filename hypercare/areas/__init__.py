"""Monitoring areas: each is a function (snapshot, as_of, ruleset) -> AreaResult.

Each area module registers one function per rule (see hypercare.areas.registry). Order
matters: the cross-cutting areas read what the others wrote for the same day, so they
come last.
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
from hypercare.areas.registry import Area

REGISTERED: dict[str, Area] = {
    area.name: area
    for area in (
        trigger.area,
        handoff.area,
        ownership.area,
        customer.area,
        billing.area,
        provisioning.area,
        ai.area,
        writeback.area,
        contract.area,
        crosscutting.audit,
        crosscutting.backlog,
    )
}

AREAS: dict[str, Callable] = {name: area.evaluate for name, area in REGISTERED.items()}
