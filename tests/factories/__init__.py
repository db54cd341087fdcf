"""Test data builders, one module per domain. Each flushes, so ids exist when it returns."""
