"""Benchmarks run by ``make bench``. They print figures and assert nothing."""
