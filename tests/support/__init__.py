"""Helpers the tests share: real services (PostgreSQL, NATS) and the product's processes."""
