"""HTTP routes of the public API, thin: validate → use case in one transaction → response."""
