"""Users and their personal API tokens."""
