"""Agent Studio gateway service."""
