"""newsalert: watch news feeds, match watch rules, alert Telegram and Slack once per story."""

__version__ = "0.1.0"
