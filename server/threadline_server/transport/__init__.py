"""The gRPC transport: servicers, error mapping, interceptors, and the server itself."""
