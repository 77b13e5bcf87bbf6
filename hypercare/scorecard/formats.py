"""How numbers and changes read on the scorecard, shared by the data sections and templates."""

from __future__ import annotations

STATUS_COLORS = {"red": "#b91c1c", "amber": "#b45309", "green": "#15803d", "no verdict": "#6b7280"}
STATUS_LABELS = {"red": "RED", "amber": "AMBER", "green": "GREEN", "no verdict": "NO VERDICT"}
MUTED = "#6b7280"
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
EXTRA_DIGITS = 3


def money(value: float, currency: str = "") -> str:
    """An amount with its currency: a known symbol in front, else the ISO code behind."""
    if abs(value) >= 1_000_000:
        number = f"{value / 1_000_000:.1f}M"
    elif abs(value) >= 1_000:
        number = f"{value / 1_000:.0f}k"
    else:
        number = f"{value:.0f}"
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    if symbol:
        return f"-{symbol}{number[1:]}" if number.startswith("-") else f"{symbol}{number}"
    return f"{number} {currency}".strip()


def fmt(value, kind: str = "int", digits: int = 0, currency: str = "") -> str:
    """A number as the scorecard shows it; missing values show as a dash.

    `digits` adds decimals beyond the usual ones, where a comparison needs them to be seen.
    """
    if value is None:
        return "–"
    if kind == "text":
        return str(value)
    if kind == "pct":
        return f"{value:.{digits}%}"
    if kind == "days":
        return f"{value:.{1 + digits}f} bd"
    if kind == "money":
        return money(value, currency)
    if kind == "num":
        return f"{value:,.{1 + digits}f}"
    return f"{value:,.{digits}f}"


def decisive_digits(values: list, kind: str) -> int:
    """Extra decimals needed so that numbers which differ also read differently (at most three)."""
    known = [v for v in values if v is not None]
    if kind in ("text", "money") or len(known) < 2:
        return 0
    for digits in range(EXTRA_DIGITS + 1):
        shown = {fmt(v, kind, digits) for v in known}
        if len(shown) == len(set(known)):
            return digits
    return EXTRA_DIGITS


def fmt_against(value, threshold, kind: str = "int") -> tuple[str, str]:
    """A value and the threshold it is judged against, at the precision that decides the check."""
    digits = decisive_digits([value, threshold], kind)
    return fmt(value, kind, digits), fmt(threshold, kind, digits)


def trend(value, previous, better: str | None, kind: str = "int") -> dict | None:
    """Direction and colour of a change against the previous period (None when not comparable)."""
    if value is None or previous is None:
        return None
    delta = value - previous
    if delta == 0:
        return {"symbol": "=", "text": f"no change (was {fmt(previous, kind)})", "color": MUTED}
    digits = decisive_digits([value, previous], kind)
    while fmt(abs(delta), kind, digits) == fmt(0, kind, digits) and digits < EXTRA_DIGITS:
        digits += 1
    symbol = "▲" if delta > 0 else "▼"
    if better is None:
        color = MUTED
    else:
        good = (delta < 0) if better == "lower" else (delta > 0)
        color = STATUS_COLORS["green"] if good else STATUS_COLORS["red"]
    return {
        "symbol": symbol,
        "text": f"{fmt(abs(delta), kind, digits)} (was {fmt(previous, kind, digits)})",
        "color": color,
        "good": None if better is None else good,
    }
