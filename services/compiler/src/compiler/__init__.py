"""Agent Studio compiler service."""
