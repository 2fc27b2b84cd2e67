"""Runnable examples, each one exercised by tests/examples."""
