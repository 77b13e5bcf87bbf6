"""A local mail capture for demos: an SMTP server on loopback that files every message it
receives as an .eml file, so the scorecard emails can be opened without a mail account."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller


class MailCapture:
    """Use as a context manager; `url` is what the scorecard mailer sends to."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files: list[Path] = []
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self._controller.port}"

    def __enter__(self) -> MailCapture:
        self.folder.mkdir(parents=True, exist_ok=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self._controller = Controller(self, hostname="127.0.0.1", port=port)
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        stem = message.get("X-Hypercare-Scorecard") or f"message-{len(self.files) + 1:03d}"
        path = self.folder / f"{stem}.eml"
        path.write_bytes(envelope.content)
        self.files.append(path)
        return "250 OK"
