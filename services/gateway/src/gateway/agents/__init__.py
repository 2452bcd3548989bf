"""Agents: create, list, read, update and delete; every other feature hangs off an agent."""
