"""The HTTP/JSON side of Threadline: grpc-gateway v2's mapping, served in-process.

``gateway.HttpGateway`` serves every RPC that has a google.api.http annotation
by calling this server's gRPC handlers in process (transport/local_calls.py);
``routes`` reads the annotations, ``template`` parses path templates,
``decode`` builds a request from the body, path and query (``params`` fills
fields), ``headers`` maps headers to metadata and deadline, ``errors`` and
``responses`` write answers, ``streaming`` writes NDJSON and Server-Sent
Events, and ``jsonpb`` reads and writes JSON as grpc-gateway's marshaler does.
"""
