"""Billing models live here (issue: monthly billing per tenant and module)."""
