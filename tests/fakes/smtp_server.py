"""A mail server on a free loopback port (aiosmtpd, in the test's own event loop): it takes every
message and keeps it, parsed, for the test to read."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any


@dataclass
class FakeSmtp:
    received: list[EmailMessage] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    def address(self, to: str = "reader@example.org") -> str:
        return f"mailto://127.0.0.1:{self.port}?from=newsalert@example.org&to={to}"

    async def start(self) -> FakeSmtp:
        from aiosmtpd.smtp import SMTP

        self._server = await asyncio.get_running_loop().create_server(lambda: SMTP(self), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook
        self.received.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"

    def html(self, message: EmailMessage) -> str:
        part = message.get_body(("html",))
        assert part is not None, "an HTML part"
        return part.get_content()
