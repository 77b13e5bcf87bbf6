"""Real servers on loopback standing in for Slack and an SMTP relay."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller

from hypercare.alerts.messages import NOTICE_HEADER


class SlackStandIn:
    """Incoming webhooks at /webhook and the Web API at /api/<method>.

    `plan` holds scripted answers for the next posts: ("ok",), ("status", 500),
    ("rate_limit", seconds), ("hang", seconds) (the message is delivered, the answer
    comes late: what a client timeout cannot tell apart from a lost post) or ("drop",)
    (delivered, then the connection closes without an answer); when empty, posts succeed.
    """

    def __init__(self):
        self.plan: deque[tuple] = deque()
        self.webhook_posts: list[dict] = []
        self.api_messages: list[dict] = []
        self.history_calls = 0
        self.ambiguous_notices = 0  # notices in messages delivered without a clear answer
        self.lock = threading.Lock()
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

            def _scripted(self, deliver, body: dict) -> bool:
                with standin.lock:
                    step = standin.plan.popleft() if standin.plan else ("ok",)
                if step[0] == "status":
                    self._reply(step[1], "server error")
                elif step[0] == "rate_limit":
                    self._reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(step[1])})
                elif step[0] == "hang":
                    answer = deliver()
                    standin._ambiguous(body)
                    time.sleep(step[1])
                    with contextlib.suppress(OSError):  # the client gave up waiting
                        self._reply(200, answer)
                elif step[0] == "drop":
                    deliver()
                    standin._ambiguous(body)
                    self.close_connection = True
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
                    self._history(body)
                    return
                if parts.path == "/webhook":

                    def deliver():
                        with standin.lock:
                            standin.webhook_posts.append(body)
                        return "ok"

                elif parts.path == "/api/chat.postMessage":

                    def deliver():
                        with standin.lock:
                            ts = f"{time.time():.6f}"
                            standin.api_messages.append(body | {"ts": ts})
                        return {"ok": True, "channel": body["channel"], "ts": ts}

                else:
                    self._reply(404, {"ok": False, "error": "unknown_method"})
                    return
                if not self._scripted(deliver, body):
                    self._reply(200, deliver())

            def _history(self, query: dict):
                oldest = float(query.get("oldest") or 0)
                with standin.lock:
                    standin.history_calls += 1
                    messages = [
                        m for m in standin.api_messages if m["channel"] == query["channel"] and float(m["ts"]) >= oldest
                    ]
                self._reply(200, {"ok": True, "messages": messages, "has_more": False})

            def do_GET(self):
                parts = urlsplit(self.path)
                if parts.path == "/api/conversations.history":
                    self._history({k: v[0] for k, v in parse_qs(parts.query).items()})
                else:
                    self._reply(404, {"ok": False, "error": "unknown_method"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def messages(self) -> list[dict]:
        """Every message that arrived, through the webhook or the Web API."""
        with self.lock:
            return [*self.webhook_posts, *self.api_messages]

    def notice_ids(self) -> list[str]:
        """The notification id of every notice that arrived, once per arrival."""
        return [
            block["block_id"]
            for message in self.messages()
            for block in _blocks(message)
            if block.get("type") == "section" and ":" not in block.get("block_id", ":")
        ]

    def _ambiguous(self, body: dict) -> None:
        with self.lock:
            self.ambiguous_notices += sum(
                1 for b in _blocks(body) if b.get("type") == "section" and ":" not in b["block_id"]
            )

    def reset(self) -> None:
        with self.lock:
            self.plan.clear()
            self.webhook_posts.clear()
            self.api_messages.clear()
            self.history_calls = 0
            self.ambiguous_notices = 0

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _blocks(message: dict) -> list[dict]:
    blocks = message.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MailSink:
    """An aiosmtpd server on loopback keeping every received message, parsed.

    `plan` scripts the answers to the next messages: ("reject",) answers 451 and keeps
    nothing; ("hang", seconds) keeps the message and answers late (a client timeout);
    when empty, messages are accepted.
    """

    def __init__(self):
        self.messages = []
        self.envelopes = []
        self.plan: deque[tuple] = deque()
        self.ambiguous_notices = 0
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                step = sink.plan.popleft() if sink.plan else ("ok",)
                if step[0] == "reject":
                    return "451 Requested action aborted: local error in processing"
                sink.envelopes.append(envelope)
                sink.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                if step[0] == "hang":
                    sink.ambiguous_notices += len(str(sink.messages[-1].get(NOTICE_HEADER, "")).split())
                    await asyncio.sleep(step[1])
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def notice_ids(self) -> list[str]:
        """The notification id of every notice that arrived, once per arrival."""
        return [nid for message in self.messages for nid in str(message.get(NOTICE_HEADER, "")).split()]

    def reset(self) -> None:
        self.plan.clear()
        self.messages.clear()
        self.envelopes.clear()
        self.ambiguous_notices = 0

    def __exit__(self, *exc):
        self.controller.stop()


def stop_process_group(process: subprocess.Popen, grace: float = 30) -> None:
    """Stop a server started in its own session and every child it forked: TERM, then KILL."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            time.sleep(1)
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue
