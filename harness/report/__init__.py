"""Reporting a study: leaderboard tables (CSV, Markdown, JSON), the HTML page and plots, from a store.
Imports run/ and below, never track/."""
