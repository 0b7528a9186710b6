module github.com/threadline/threadline/generated/go/gateway

// grpc-gateway's runtime at least as new as protoc-gen-grpc-gateway v2.33.0,
// which made these handlers (and the version the conformance test compares
// with); it asks for go 1.26.0, hence the go line. The stubs module is
// required at this release's version: both are released together, by the tags
// generated/go/vX.Y.Z and generated/go/gateway/vX.Y.Z (docs/clients.md).
go 1.26.0

require (
	github.com/grpc-ecosystem/grpc-gateway/v2 v2.33.0
	github.com/threadline/threadline/generated/go v0.2.0
	google.golang.org/grpc v1.84.0
	google.golang.org/protobuf v1.36.12
)

require (
	golang.org/x/net v0.61.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20261026165753-2ffab32bce7e // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261019180522-ce908d29299b // indirect
)
