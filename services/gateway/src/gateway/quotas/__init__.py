"""Quotas per user: how much one account may hold or run at once."""
