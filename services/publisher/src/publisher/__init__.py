"""Agent Studio publisher: immutable versions, release channels and the published read model."""
