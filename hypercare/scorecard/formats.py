"""How numbers and changes read on the scorecard, shared by the data sections and templates."""

from __future__ import annotations

STATUS_COLORS = {"red": "#b91c1c", "amber": "#b45309", "green": "#15803d", "no verdict": "#6b7280"}
MUTED = "#6b7280"


def fmt(value, kind: str = "int") -> str:
    """A number as the scorecard shows it; missing values show as a dash."""
    if value is None:
        return "–"
    if kind == "text":
        return str(value)
    if kind == "pct":
        return f"{value:.0%}"
    if kind == "days":
        return f"{value:.1f} bd"
    if kind == "money":
        if abs(value) >= 1_000_000:
            return f"{value / 1_000_000:.1f}M"
        if abs(value) >= 1_000:
            return f"{value / 1_000:.0f}k"
        return f"{value:.0f}"
    if kind == "num":
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def trend(value, previous, better: str | None, kind: str = "int") -> dict | None:
    """Direction and colour of a change against the previous period (None when not comparable)."""
    if value is None or previous is None:
        return None
    delta = value - previous
    shown = fmt(abs(delta), kind)
    if shown == fmt(0, kind):
        return {"symbol": "=", "text": f"no change (was {fmt(previous, kind)})", "color": MUTED}
    symbol = "▲" if delta > 0 else "▼"
    if better is None:
        color = MUTED
    else:
        good = (delta < 0) if better == "lower" else (delta > 0)
        color = STATUS_COLORS["green"] if good else STATUS_COLORS["red"]
    return {"symbol": symbol, "text": f"{shown} (was {fmt(previous, kind)})", "color": color}
