"""What source data may say in an alert: personal and tax identifiers are masked, and
every value is escaped for the channel it goes to (Slack mrkdwn, HTML email).

Patterns are deliberately broad: a masked order number costs a click, a leaked phone
number or VAT id cannot be taken back.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "[redacted]"

EMAIL = re.compile(r"[^\s@<>|\"'(),;:]+@[^\s@<>|\"'(),;:]+\.[A-Za-z]{2,}")
# Values announced by their label: "VAT: DE 123", "ssn=123-45-6789", "passport no 12345".
LABELLED_ID = re.compile(
    r"(?i)\b(?:ssn|sin|tin|nin|vat(?:[ _-]?(?:id|no|number))?|tax[ _-]?(?:id|no|number)|ust-?id(?:nr)?|"
    r"national[ _-]?id|passport(?:[ _-]?(?:no|number))?|personal[ _-]?id)\b\s*(?:no\.?|nr\.?|number|#)?\s*[:=#]?\s*"
    r"[A-Z0-9](?:[A-Z0-9./-]|\s(?=\d)){3,}"
)
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
VAT = re.compile(
    r"\b(?:AT|BE|BG|CHE|CY|CZ|DE|DK|EE|EL|ES|EU|FI|FR|GB|HR|HU|IE|IT|LT|LU|LV|MT|NL|NO|PL|PT|RO|SE|SI|SK|XI)"
    r"[ -]?U?\d{2}[0-9A-Z.]{5,12}\b"
)
US_SSN = re.compile(r"\b\d{3}[- ]\d{2}[- ]\d{4}\b")
US_EIN = re.compile(r"\b\d{2}-\d{7}\b")
UK_NINO = re.compile(r"\b[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d\s().\-/]{6,}\d(?!\w)")
_DATE_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}")
_DECIMAL = re.compile(r"[+-]?\d+\.\d+")


def _phone(match: re.Match) -> str:
    text = match.group(0)
    digits = sum(c.isdigit() for c in text)
    international = text.startswith(("+", "00"))
    if _DATE_LIKE.search(text) or _DECIMAL.fullmatch(text.strip()):
        return text
    if digits >= 9 or (international and digits >= 7):
        return MASK
    return text


def redact_text(text: str) -> str:
    """Mask emails, phone numbers, IBANs, VAT/tax ids and national ids in free text."""
    for pattern in (EMAIL, LABELLED_ID, IBAN, VAT, US_SSN, US_EIN, UK_NINO):
        text = pattern.sub(MASK, text)
    return PHONE.sub(_phone, text)


def redact_value(value: Any) -> Any:
    """`redact_text` through strings, lists and mappings; other values pass unchanged."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    return value


def allowed_evidence(evidence: dict[str, Any], allowed: set[str]) -> tuple[dict[str, Any], int]:
    """Evidence reduced to the allow-listed keys, values masked; returns it and how many keys were withheld."""
    kept = {k: redact_value(v) for k, v in evidence.items() if k in allowed}
    return kept, len(evidence) - len(kept)


def slack_escape(text: str) -> str:
    """Slack mrkdwn control characters as entities, so `<!channel>` or `<url|label>` in data stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
