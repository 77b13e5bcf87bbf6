"""Who receives an alert: owner roles mapped to Slack channels and email addresses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class Recipient:
    owner_role: str
    address: str  # "slack:#channel" or "email:someone@example.com"

    @property
    def channel(self) -> str:
        return self.address.split(":", 1)[0]

    @property
    def target(self) -> str:
        return self.address.split(":", 1)[1]


def recipients(
    alerting: dict[str, Any], roles: list[str], segment: str | None, sales_owner: str | None
) -> list[Recipient]:
    """Every route of every role; the account owner is the deal's sales owner by email."""
    found: list[Recipient] = []
    segment_routes = (alerting.get("by_segment") or {}).get(segment or "", {})
    for role in roles:
        if role == "account_owner":
            if sales_owner and EMAIL.fullmatch(sales_owner):
                found.append(Recipient(role, f"email:{sales_owner}"))
            continue
        route = segment_routes.get(role) or alerting["routes"].get(role) or {}
        if route.get("slack"):
            found.append(Recipient(role, f"slack:{route['slack']}"))
        if route.get("email"):
            found.append(Recipient(role, f"email:{route['email']}"))
    return list(dict.fromkeys(found))


def arr_band(alerting: dict[str, Any], arr: float | None) -> str:
    if arr is None:
        return "unknown"
    band = "unknown"
    for label, lower in sorted(alerting["arr_bands"].items(), key=lambda item: item[1]):
        if arr >= lower:
            band = label
    return band
