"""Threadline: a gRPC service that keeps agent conversations."""

from importlib.metadata import version

# The installed distribution's version, which setuptools reads from VERSION.
__version__ = version("threadline")
