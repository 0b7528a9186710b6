"""The benchmark: Threadline beside the gRPC runtime's limit, a naive durable server and peers.

``python -m bench`` (``make bench``) runs it; bench/README.md says what it measures.
"""
