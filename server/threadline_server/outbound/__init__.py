"""Calls the server makes to the outside: webhook deliveries."""
