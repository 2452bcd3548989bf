"""A real SMTP server (aiosmtpd) that keeps what it receives, for tests that read mail.

One shared server serves every gateway the tests start (`shared_server`); a test that needs the
server to be away, then back, makes its own on a port of its choosing (`MailServer(port)`).
"""

from __future__ import annotations

import atexit
import email
import email.policy
import re
import threading
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support import infra
from tests.support.waiting import eventually

LINK = re.compile(r"https?://\S+/auth/callback\?token=[A-Za-z0-9_\-]+")


class _Keep:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(parsed)
        return "250 Message accepted for delivery"


class MailServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or infra.free_port()
        self._keep = _Keep()
        self._controller = Controller(self._keep, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> MailServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def messages_to(self, address: str) -> list[EmailMessage]:
        with self._keep.lock:
            return [m for m in self._keep.messages if m["To"] == address]

    def wait_for(self, address: str, count: int = 1, timeout: float = 20) -> list[EmailMessage]:
        """The first `count` messages to `address`, once they have arrived."""
        found = eventually(
            lambda: self.messages_to(address),
            lambda seen: len(seen) >= count,
            timeout=timeout,
            what=f"{count} mail(s) to {address}",
        )
        return found[:count]


def link_in(message: EmailMessage) -> str:
    body: Any = message.get_body(("plain",))
    match = LINK.search(body.get_content() if body is not None else "")
    assert match is not None, f"no sign-in link in: {message}"
    return match.group(0)


_shared: MailServer | None = None


def shared_server() -> MailServer:
    """The SMTP server every test gateway sends to, started on first use."""
    global _shared
    if _shared is None:
        _shared = MailServer().start()
        atexit.register(_shared.stop)
    return _shared
