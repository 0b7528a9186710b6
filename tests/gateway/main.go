// Command gateway is the real grpc-gateway v2 in front of a Threadline gRPC
// server, for the conformance test (tests/test_gateway_conformance.py).
//
// It is what the grpc-gateway documentation tells a user to write: a
// runtime.NewServeMux() with no options, so every default applies, and the
// generated Register<Service>HandlerFromEndpoint of each Threadline service
// against one gRPC address with insecure credentials. Nothing here changes how
// the gateway behaves; the test compares Threadline's own HTTP side with it.
// The one addition is a blank import of the google.rpc error detail types, so
// that error bodies can carry Threadline's ErrorInfo and BadRequest details.
//
//	gateway --grpc 127.0.0.1:50051 --listen 127.0.0.1:0
//
// Once it is listening it prints "gateway listening on HOST:PORT" on stdout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	// Links the google.rpc error detail types (ErrorInfo, BadRequest, ...)
	// into the protobuf registry. Threadline puts them in every error's
	// details; without them the gateway cannot write an error body as JSON
	// and answers every error with 500 "failed to marshal error message".
	// A real deployment links them the same way (any program that reads
	// rich errors does); it changes no option of the gateway.
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	threadlinev1 "github.com/threadline/threadline/generated/go/gateway/threadline/v1"
)

type register func(context.Context, *runtime.ServeMux, string, []grpc.DialOption) error

func main() {
	grpcAddress := flag.String("grpc", "127.0.0.1:50051", "host:port of the Threadline gRPC server")
	listen := flag.String("listen", "127.0.0.1:0", "host:port to serve HTTP on (port 0 picks a free port)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	mux := runtime.NewServeMux()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	services := []struct {
		name string
		fn   register
	}{
		{"ThreadService", threadlinev1.RegisterThreadServiceHandlerFromEndpoint},
		{"MessageService", threadlinev1.RegisterMessageServiceHandlerFromEndpoint},
		{"RunService", threadlinev1.RegisterRunServiceHandlerFromEndpoint},
		{"AgentWorkerService", threadlinev1.RegisterAgentWorkerServiceHandlerFromEndpoint},
		{"WebhookService", threadlinev1.RegisterWebhookServiceHandlerFromEndpoint},
	}
	for _, service := range services {
		if err := service.fn(ctx, mux, *grpcAddress, opts); err != nil {
			log.Fatalf("register %s: %v", service.name, err)
		}
	}

	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen on %s: %v", *listen, err)
	}
	fmt.Printf("gateway listening on %s\n", listener.Addr().String())

	server := &http.Server{Handler: mux}
	go func() {
		<-ctx.Done()
		_ = server.Close()
	}()
	if err := server.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("serve: %v", err)
	}
}
