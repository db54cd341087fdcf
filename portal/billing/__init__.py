"""Billing: the billing entity (entité facturante) and its client base."""
