"""Where e-mail goes: an SMTP server (`SMTP_URL`), or `.eml` files any mail client opens."""

from __future__ import annotations

import asyncio
import os
import re
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class EmlDirectory:
    """Writes each message as `<reference>.eml`; a retried message overwrites its own file."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    async def send(self, message: EmailMessage, reference: str) -> str:
        return await asyncio.to_thread(self._write, message.as_bytes(policy=SMTP), reference)

    def _write(self, data: bytes, reference: str) -> str:
        self._folder.mkdir(parents=True, exist_ok=True)
        path = self._folder / f"{_UNSAFE.sub('_', reference)}.eml"
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(data)
        partial.replace(path)  # a reader never sees half a message
        return str(path)


class SmtpTransport:
    """`smtp://[user:password@]host[:port][?starttls=true|false]` or `smtps://...` (TLS from
    the first byte). Without `starttls`, STARTTLS is used when the server offers it."""

    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:password@host:port")
        self._implicit_tls = parts.scheme == "smtps"
        self._host = parts.hostname
        self._port = parts.port or (465 if self._implicit_tls else 25)
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        starttls = parse_qs(parts.query).get("starttls", [""])[0].lower()
        self._start_tls = {"true": True, "1": True, "false": False, "0": False}.get(starttls)
        self._timeout_s = timeout_s

    async def send(self, message: EmailMessage, reference: str) -> str:
        await aiosmtplib.send(
            message,
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            use_tls=self._implicit_tls,
            start_tls=False if self._implicit_tls else self._start_tls,
            timeout=self._timeout_s,
        )
        return f"smtp://{self._host}:{self._port} {message['To']}"
