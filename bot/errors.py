"""The one error hierarchy. A user sees str(error); logs get the structured fields."""

from __future__ import annotations


class NewsalertError(Exception):
    """Base of every error we raise on purpose."""


class ConfigError(NewsalertError):
    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}" if key else problem)
        self.key = key
        self.problem = problem


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

    def __init__(self, reason: str, position: int):
        super().__init__(f"{reason} at {position}")
        self.reason = reason
        self.position = position


class OpmlError(NewsalertError):
    """A file that is not OPML; the message says why, in one sentence."""


class StoreError(NewsalertError):
    pass


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
