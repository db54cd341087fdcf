"""Billing: the billing entity, its client base, engagements and invoices."""
