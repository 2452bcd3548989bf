"""Mail out of the gateway: rows of the mail outbox, written in the request's transaction, sent over
SMTP after the commit by a relay in every replica, and deleted once the server took them.

A failed send is logged and retried with growing delays until the mail is no longer useful (its
sign-in link has expired); then it is dropped with an error in the log, never silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import aiosmtplib
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.repository import Mail, MailRepository
from gateway.settings import GatewaySettings

log = structlog.get_logger()

Write = Callable[[Callable[[AsyncSession], Awaitable[Any]]], Awaitable[Any]]
Sender = Callable[[EmailMessage], Awaitable[None]]

LEASE = timedelta(minutes=2)  # longer than a send may take (aiosmtplib's timeout below)
SEND_TIMEOUT_SECONDS = 30.0
BATCH = 20
POLL_SECONDS = 5.0


def retry_delay(attempts: int) -> timedelta:
    """2 s after the first failed attempt, doubling, at most 5 minutes."""
    return timedelta(seconds=min(2 * 2 ** max(attempts - 1, 0), 300))


def smtp_sender(settings: GatewaySettings) -> Sender:
    """Sends through `SMTP_URL`: smtps:// is TLS from the start; smtp:// upgrades with STARTTLS
    when the server offers it."""
    assert settings.smtp_url is not None
    parts = urlsplit(settings.smtp_url)
    implicit_tls = parts.scheme == "smtps"
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None

    async def send(message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=parts.hostname,
            port=parts.port or (465 if implicit_tls else 25),
            username=settings.smtp_username,
            password=password,
            use_tls=implicit_tls,
            start_tls=False if implicit_tls else None,
            timeout=SEND_TIMEOUT_SECONDS,
        )

    return send


def message_of(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message.set_content(mail.body)
    return message


class MailRelay:
    """Sends what the mail outbox holds: woken by `nudge()` after a commit, and every few seconds
    for retries and for mail another replica wrote."""

    def __init__(self, write: Write, send: Sender, sender_address: str) -> None:
        self._write = write
        self._send = send
        self._from = sender_address
        self._wake = asyncio.Event()

    def nudge(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                while await self.send_due():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: try again on the next round
                log.warning("mail.relay_failed", error=str(exc) or type(exc).__name__)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=POLL_SECONDS)
            self._wake.clear()

    async def send_due(self) -> bool:
        """Send one batch of due mail; True when there may be more."""

        async def claim(session: AsyncSession) -> list[Mail]:
            return await MailRepository(session).claim_due(BATCH, LEASE)

        batch: list[Mail] = await self._write(claim)
        for mail in batch:
            await self._deliver(mail)
        return len(batch) == BATCH

    async def _deliver(self, mail: Mail) -> None:
        try:
            await self._send(message_of(mail, self._from))
        except Exception as exc:
            await self._failed(mail, str(exc) or type(exc).__name__)
            return

        async def sent(session: AsyncSession) -> None:
            await MailRepository(session).sent(mail.id)

        await self._write(sent)
        log.info("mail.sent", mail_id=str(mail.id), attempts=mail.attempts)

    async def _failed(self, mail: Mail, error: str) -> None:
        delay = retry_delay(mail.attempts)
        expired = datetime.now(mail.expires_at.tzinfo) + delay >= mail.expires_at

        async def record(session: AsyncSession) -> None:
            repo = MailRepository(session)
            await (repo.sent(mail.id) if expired else repo.failed(mail.id, error, delay))

        await self._write(record)
        if expired:
            log.error("mail.abandoned", mail_id=str(mail.id), attempts=mail.attempts, error=error)
        else:
            log.warning(
                "mail.send_failed",
                mail_id=str(mail.id),
                attempts=mail.attempts,
                error=error,
                retry_in=delay.total_seconds(),
            )
