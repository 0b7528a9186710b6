"""Threadline's gRPC API for Python: the stubs generated from protos/."""

__version__ = "0.2.0"
