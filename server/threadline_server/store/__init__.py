"""Persistence: the abstract store the domain talks to, and its SQLite engine."""
