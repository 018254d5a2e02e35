"""Tracking studies over time: the history file, comparing runs, alarms, the nightly check, and publishing a
finished study (leaderboard + history row)."""
