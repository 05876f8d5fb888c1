"""Watch rules: parse rule text, normalize words, match many rules against an article."""
