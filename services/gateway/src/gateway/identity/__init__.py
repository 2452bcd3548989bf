"""Signing in by mailed link, browser sessions and their CSRF protection."""
