"""Where alerts go: one small module per chat app, each a pure render plus a thin send, and this
list of them. A channel module exports SPEC (bot/channels/base.py: its name, settings model,
environment variables and constructor); config.py and app.py loop over CHANNELS and name none.
Adding a channel: docs/channels.md."""

from bot.channels import apprise, console, slack, telegram, webhook

CHANNELS = (console.SPEC, telegram.SPEC, slack.SPEC, apprise.SPEC, webhook.SPEC)
