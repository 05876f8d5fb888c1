"""Turn an article's text into what an alert shows: clean body, summary, matched quote."""

from bot.summary.boilerplate import clean_body
from bot.summary.extractive import summarize
from bot.summary.lead import lead_summary, quote_match

__all__ = ["clean_body", "lead_summary", "quote_match", "summarize"]
