"""Publishing: versions, channels, the published read model and the OpenAI-compatible endpoint
that serves it; an agent's export and import."""
