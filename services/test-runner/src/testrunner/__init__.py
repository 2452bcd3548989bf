"""Agent Studio test-runner: runs an agent's test cases against an LLM."""
