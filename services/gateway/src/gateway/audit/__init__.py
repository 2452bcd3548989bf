"""The append-only audit log of security-relevant actions, and its reading by the user."""
