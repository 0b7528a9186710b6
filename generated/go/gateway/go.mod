module github.com/threadline/threadline/generated/go/gateway

go 1.26.0

replace github.com/threadline/threadline/generated/go => ../

require (
	github.com/grpc-ecosystem/grpc-gateway/v2 v2.33.0
	github.com/threadline/threadline/generated/go v0.0.0-00010101000000-000000000000
	google.golang.org/grpc v1.85.0
	google.golang.org/protobuf v1.36.12
)

require (
	golang.org/x/net v0.61.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20261110000943-09e21b237f2c // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261104224025-d1e00e9f33ab // indirect
)
