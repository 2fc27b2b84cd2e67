"""Tests that run the files under examples/ as written."""
