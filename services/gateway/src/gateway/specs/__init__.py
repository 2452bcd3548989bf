"""Specs: the spec and its revisions, its completeness and lint, the coach, and compilations."""
