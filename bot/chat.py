"""What every chat shares, once: the actions an alert offers (docs/commands.md, "The buttons under an
alert"), the button protocol, the refusal text, and the runner for slow commands. A chat adapter
(bot/channels/) only formats these and calls its API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any

from bot.commands import Button, split_command
from bot.domain import Alert, Match

SORRY = "Sorry, something went wrong on my side; it has been logged. Please try again later."
ACTION_ROWS = 3  # rules with buttons under one alert


def alert_actions(alert: Alert, shown: Sequence[Match]) -> tuple[tuple[Button, ...], ...]:
    """The buttons under an alert. A stored alert's act on what it shows: mute its story, mute its source
    for a day, narrow a rule that matched ("Not about this"), and pause its rule (with several rules,
    "Rules" lists them). An alert of no stored article (none is sent so) pauses or deletes each rule."""
    if alert.article_id is not None:
        article = alert.article_id
        one = len(shown) == 1
        rule = Button("Pause rule", f"pause {shown[0].rule_id}") if one else Button("Rules", "rules")
        return (
            (Button("Mute story", f"mutestory {article}"),
             Button("Mute source 24 h", f"mutesource {article}")),
            (Button("Not about this", f"notabout {article}"), rule),
        )  # fmt: skip
    one = len(shown) == 1
    return tuple(
        (
            Button("Mute this rule" if one else f"Mute rule {m.rule_id}", f"pause {m.rule_id}"),
            Button("Unwatch" if one else f"Unwatch {m.rule_id}", f"unwatch {m.rule_id}"),
        )
        for m in shown[:ACTION_ROWS]
    )


def encode_button(action: str, refresh: str | None = None) -> str:
    """What a button carries: its action, after the command whose reply it refreshes in place once
    pressed ("rules>pause 3")."""
    return f"{refresh}>{action}" if refresh else action


def decode_button(data: str) -> tuple[str, str, str]:
    """ "rules>pause 3" -> ("rules", "pause", "3"): the command to show again ("" for none), then the
    pressed command's name and argument."""
    refresh, _, action = data.rpartition(">")
    name, argument = split_command(action)
    return refresh, name, argument


class Runner:
    """Slow commands (a backtest, finding a feed), each answered by a task of its own, so that one
    chat's backtest holds up no other chat."""

    def __init__(self) -> None:
        self._later: set[asyncio.Task[None]] = set()

    def later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def settle(self) -> None:
        """Wait for the answers still being worked on."""
        while self._later:
            await asyncio.gather(*self._later, return_exceptions=True)
