"""Keeping credentials out of logs and error texts.

Senders register the webhook URLs, tokens and passwords they hold; `SecretFilter` on a
logger or handler rewrites any record that would carry one of them (or anything shaped
like a Slack token or webhook) before it is written, at every level including DEBUG.
"""

from __future__ import annotations

import logging
import re
import threading

SECRET_MASK = "[secret]"
_SHAPES = re.compile(
    r"https://hooks\.slack(?:-gov)?\.com/\S+|xox[abeoprs]-[\w-]+|xapp-[\w-]+|(?i:bearer)\s+[\w.~+/=-]+"
    r"|(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"
)
_known: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a credential so `scrub` and `SecretFilter` mask it wherever it appears."""
    if value and len(value) >= 6:
        with _lock:
            _known.add(value)


def scrub(text: str) -> str:
    """`text` with every registered secret and every token- or webhook-shaped string masked."""
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, SECRET_MASK)
    return _SHAPES.sub(SECRET_MASK, text)


class SecretFilter(logging.Filter):
    """Masks secrets in a record's final message (arguments merged in) and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


_FILTER = SecretFilter()


def guard_logger(logger: logging.Logger) -> logging.Logger:
    """Attach the secret filter to `logger` (records created on it) once."""
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def guard_handlers(logger: logging.Logger | None = None) -> None:
    """Attach the secret filter to the handlers of `logger` (default: root), which see propagated records."""
    for handler in (logger or logging.getLogger()).handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
