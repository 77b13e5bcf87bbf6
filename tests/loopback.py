"""Real servers on loopback standing in for Slack and an SMTP relay."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller


class SlackStandIn:
    """Incoming webhooks at /webhook and the Web API at /api/<method>.

    `plan` holds scripted answers for the next requests: ("ok",), ("status", 500),
    ("rate_limit", seconds) or ("hang", seconds); when empty, requests succeed.
    """

    def __init__(self):
        self.plan: deque[tuple] = deque()
        self.webhook_posts: list[dict] = []
        self.api_messages: list[dict] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                return

            def _reply(self, status: int, body: dict | str, headers: dict | None = None):
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _scripted(self) -> bool:
                if not standin.plan:
                    return False
                step = standin.plan.popleft()
                if step[0] == "status":
                    self._reply(step[1], "server error")
                elif step[0] == "rate_limit":
                    self._reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(step[1])})
                elif step[0] == "hang":
                    time.sleep(step[1])
                    self._reply(200, "ok")
                else:
                    return False
                return True

            def _body(self) -> dict:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if "json" in (self.headers.get("Content-Type") or ""):
                    return json.loads(raw or b"{}")
                return {k: v[0] for k, v in parse_qs(raw.decode()).items()}

            def do_POST(self):
                parts = urlsplit(self.path)
                body = self._body() | {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/api/conversations.history":
                    self._history(body["channel"])
                    return
                if self._scripted():
                    return
                if self.path == "/webhook":
                    standin.webhook_posts.append(body)
                    self._reply(200, "ok")
                elif self.path == "/api/chat.postMessage":
                    ts = f"{time.time():.6f}"
                    standin.api_messages.append(body | {"ts": ts})
                    self._reply(200, {"ok": True, "channel": body["channel"], "ts": ts})
                else:
                    self._reply(404, {"ok": False, "error": "unknown_method"})

            def _history(self, channel: str):
                messages = [m for m in standin.api_messages if m["channel"] == channel]
                self._reply(200, {"ok": True, "messages": messages})

            def do_GET(self):
                parts = urlsplit(self.path)
                if parts.path == "/api/conversations.history":
                    self._history(parse_qs(parts.query)["channel"][0])
                else:
                    self._reply(404, {"ok": False, "error": "unknown_method"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MailSink:
    """An aiosmtpd server on loopback keeping every received message, parsed."""

    def __init__(self):
        self.messages = []
        self.envelopes = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                sink.envelopes.append(envelope)
                sink.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()
