"""The HTTP/JSON side of Threadline: grpc-gateway v2's mapping, served in-process.

``gateway.HttpGateway`` serves every RPC that has a google.api.http annotation
by calling this server's gRPC handlers in process (transport/local_calls.py);
``routes`` reads the annotations,
``template`` parses path templates, ``params`` fills requests from the path and
query, and ``jsonpb`` reads and writes JSON as grpc-gateway's marshaler does.
"""
