"""The one error hierarchy. A user sees str(error), then its hint (what to do), and the command line
exits with its exit_code; logs get the structured fields.

Exit codes, as the README lists them: 1 the work failed (a feed could not be fetched, or an error we did
not expect), 2 the configuration or the command line is wrong, 3 the database cannot be used, 4 the HTTP
port cannot be opened.
"""

from __future__ import annotations


class NewsalertError(Exception):
    """Base of every error we raise on purpose."""

    exit_code = 1
    hint = ""  # what to do about it, one sentence; empty when the message says it already


class ConfigError(NewsalertError):
    """A setting that cannot be used (a Telegram or Slack token they refuse, too); key names it."""

    exit_code = 2

    def __init__(self, key: str, problem: str, hint: str = ""):
        super().__init__(f"{key}: {problem}" if key else problem)
        self.key = key
        self.problem = problem
        self.hint = hint


class FetchError(NewsalertError):
    """A feed could not be fetched.

    kind: timeout, network, http, gone (410), too_large, file, redirect, refused (SSRF guard),
    parse (not a feed, or one that cannot be read), too_slow (its parse overran the deadline).
    retry_after: seconds the server asked us to wait (429, 503).
    """

    def __init__(self, kind: str, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


class QueryError(NewsalertError):
    """A watch rule that cannot be used; position is a 0-based offset into the rule text."""

    exit_code = 2

    def __init__(self, reason: str, position: int):
        super().__init__(f"{reason} at {position}")
        self.reason = reason
        self.position = position

    def pointed(self, rule: str) -> str:
        """The reason, and where in the rule, as a person counts and sees it:
        'unclosed quote at character 6: NATO ▶"Russia'. A lone surrogate (no terminal or chat app
        can show one) as U+FFFD."""
        at, shown = self.position, "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in rule)
        return f"{self.reason} at character {at + 1}: {shown[:at]}\u25b6{shown[at:]}"


class OpmlError(NewsalertError):
    """A file that is not OPML; the message says why, in one sentence."""

    exit_code = 2


class StoreError(NewsalertError):
    """The database cannot be used: what failed and why; hint: what to do."""

    exit_code = 3

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.hint = hint


class BackupError(NewsalertError):
    """A backup or a restore that cannot be done: the file named is not a newsalert backup, or is
    already there (exit code 2), or it cannot be written (1); hint: what to do."""

    def __init__(self, message: str, hint: str = "", exit_code: int = 2):
        super().__init__(message)
        self.hint = hint
        self.exit_code = exit_code


class ListenError(NewsalertError):
    """The web server cannot listen on http.host and http.port (the port is taken, say)."""

    exit_code = 4

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.hint = hint


class UnreachableError(NewsalertError):
    """A chat app cannot be reached now (the network, its servers): try again later. Not a setting."""


class DeliveryError(NewsalertError):
    pass


class TransientDeliveryError(DeliveryError):
    """Try again later; retry_after in seconds when the chat API said how long."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """The address is gone (chat deleted, bot blocked): stop sending to it."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class AddressMovedError(DeliveryError):
    """The chat has a new address (a Telegram group became a supergroup): send there from now on."""

    def __init__(self, new_address: str):
        super().__init__(f"the chat moved to {new_address}")
        self.new_address = new_address
