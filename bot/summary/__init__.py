"""Turn an article's text into what an alert shows: clean body, summary, matched quote."""

from bot.summary.boilerplate import clean_body
from bot.summary.extractive import summarize
from bot.summary.lead import quote_match

__all__ = ["clean_body", "quote_match", "summarize"]
