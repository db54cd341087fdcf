"""The web layer shared by every domain: layout, templating, errors, health."""
