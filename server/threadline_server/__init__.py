"""Threadline: a gRPC service that keeps agent conversations."""

__version__ = "0.1.0"
