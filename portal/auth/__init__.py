"""The permission model every domain asks: permissions, roles, the principal, row restrictions, guards."""
