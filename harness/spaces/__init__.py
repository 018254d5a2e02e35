"""Shared search spaces."""
