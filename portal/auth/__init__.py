"""Authentication (sessions, passwords, throttling) and the permission model."""
