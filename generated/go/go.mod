module github.com/threadline/threadline/generated/go

// The go line and the versions below are the oldest this module's code needs,
// so that depending on it never holds a consumer back (a build takes the
// newest version any module asks for):
//   - protobuf v1.36.12: code made by protoc-gen-go v1.36.12 needs a runtime
//     at least as new; it asks for go 1.23, hence the go line;
//   - grpc v1.64.0: the first release with grpc.SupportPackageIsVersion9,
//     which protoc-gen-go-grpc v1.6.0 code requires.
// Released by the tag generated/go/vX.Y.Z (docs/clients.md).
go 1.23

require (
	google.golang.org/genproto/googleapis/api v0.0.0-20240318140521-94a12d6c2237
	google.golang.org/grpc v1.64.0
	google.golang.org/protobuf v1.36.12
)

require (
	golang.org/x/net v0.22.0 // indirect
	golang.org/x/sys v0.18.0 // indirect
	golang.org/x/text v0.14.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20240318140521-94a12d6c2237 // indirect
)
