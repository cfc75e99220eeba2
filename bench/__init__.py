"""Benchmarks: they measure and report, they assert nothing (see bench/README.md)."""
