"""The console channel: alerts printed readably to a terminal or a log (docker logs)."""

from __future__ import annotations

import itertools
from typing import TextIO

from rich.console import Console
from rich.text import Text

from bot.channels.base import Parts, SendOnly, Spec, nested
from bot.domain import Alert, Quote, Receipt
from bot.pacing import Rate

MARK = "**"  # matched words stay visible where there is no colour (pipes, docker logs)


def render_quote(quote: Quote) -> Text:
    text = Text()
    at = 0
    for start, end in quote.spans:
        text.append(quote.text[at:start])
        text.append(f"{MARK}{quote.text[start:end]}{MARK}", style="bold yellow")
        at = end
    text.append(quote.text[at:])
    return text


def render_console(alert: Alert) -> Text:
    """The alert as lines of text: title, source and time, link, summary, why it matched."""
    when = alert.published_at.strftime("%Y-%m-%d %H:%M UTC")
    text = Text()
    text.append(f"== {alert.title}\n", style="bold")
    text.append(f"{alert.feed_name} \u00b7 {when}\n", style="dim")
    if alert.also_in:
        text.append(f"Also in: {', '.join(alert.also_in)}\n", style="dim")
    text.append(f"{alert.link}\n", style="underline")
    if alert.summary:
        text.append(f"\n{alert.summary}\n")
    text.append("\nMatched:\n", style="bold")
    for match in alert.matches:
        text.append(f"  - {match.rule}: ", style="cyan")
        text.append("\u201c")
        text.append_text(render_quote(nested(match.quote)))
        text.append("\u201d\n")
    return text


class ConsoleChannel(SendOnly):
    name = "console"

    def __init__(self, stream: TextIO | None = None):
        self.console = Console(file=stream, highlight=False, soft_wrap=True, emoji=False)
        self._ids = itertools.count(1)

    async def send(self, address: str, alert: Alert) -> Receipt:
        self.console.print(render_console(alert))
        return Receipt(f"console-{next(self._ids)}")

    async def send_digest(self, address: str, alerts: list[Alert], heading: str | None = None) -> Receipt:
        self.console.print(Text(f"== {heading or f'{len(alerts)} new stories'}\n", style="bold"))
        for alert in alerts:
            self.console.print(render_console(alert))
        return Receipt(f"console-{next(self._ids)}")

    async def edit_digest(self, address: str, message_id: str, alerts: list[Alert], heading: str) -> Receipt:
        self.console.print(Text(f"~~ {heading}: {alerts[-1].title}\n", style="dim"))
        return Receipt(message_id)

    def per_chat(self, address: str) -> Rate | None:
        return None

    async def edit(self, address: str, message_id: str, alert: Alert) -> Receipt:
        self.console.print(Text(f"~~ {alert.title}: also in {', '.join(alert.also_in)}\n", style="dim"))
        return Receipt(message_id)

    async def send_notice(self, address: str, text: str) -> Receipt:
        self.console.print(Text(f"!! newsalert: {text}\n", style="bold red"))
        return Receipt(f"console-{next(self._ids)}")

    async def start(self) -> None:
        return

    async def close(self) -> None:
        return

    def admin_addresses(self) -> list[str]:
        return ["stdout"]


def build(_settings: None, parts: Parts) -> ConsoleChannel:
    return ConsoleChannel(parts.stream)


SPEC = Spec("console", build)  # no settings, no commands typed: it prints what the config file subscribes
