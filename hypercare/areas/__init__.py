"""Monitoring areas: each is a function (snapshot, as_of, ruleset) -> AreaResult."""

from __future__ import annotations

from collections.abc import Callable

from hypercare.areas import contract, trigger

AREAS: dict[str, Callable] = {
    "trigger": trigger.evaluate,
    "contract": contract.evaluate,
}
