"""The HTTP/JSON side of Threadline: grpc-gateway v2's mapping, served in-process.

``gateway.HttpGateway`` serves every RPC that has a google.api.http annotation
by calling it over a gRPC channel to a private unix socket of this server;
``routes`` reads the annotations,
``template`` parses path templates, ``params`` fills requests from the path and
query, and ``jsonpb`` reads and writes JSON as grpc-gateway's marshaler does.
"""
