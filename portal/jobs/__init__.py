"""Background jobs: outbox, broker, recorded runs and the scheduler."""
