"""Persistence: the abstract store the domain talks to (base.py), and its two adapters.

sqlite/ is the embedded default; postgres/ is one database several processes
share. choice.py picks one from --database.
"""
