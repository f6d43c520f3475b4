"""Benchmarks: each prints a table (or JSON with --json); never part of the tests."""
