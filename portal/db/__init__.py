"""Database: declarative base, engines and sessions, migrations."""
