"""newsalert: watch news feeds, match watch rules, alert Telegram and Slack once per story."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/newsalert/newsalert#readme"  # in the User-Agent: where hosts read of us
