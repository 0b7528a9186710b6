// Command client is a Threadline client in Go, over the stubs in generated/go.
// Against a running server it creates a thread, appends messages, pages
// through them, streams an echo run, and deletes the thread; any failure ends
// it with exit code 1.
//
//	go run ./client --target localhost:50051
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	threadlinev1 "github.com/threadline/threadline/generated/go/threadline/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

func main() {
	target := flag.String("target", envOr("THREADLINE_TARGET", "localhost:50051"), "the server's host:port")
	flag.Parse()
	if err := run(*target); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err) // a gRPC error reads "rpc error: code = ... desc = ..."
		os.Exit(1)
	}
	fmt.Printf("OK: Go client passed every step against %s\n", *target)
}

func run(target string) error {
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	threads := threadlinev1.NewThreadServiceClient(conn)
	messages := threadlinev1.NewMessageServiceClient(conn)
	runs := threadlinev1.NewRunServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a deadline on every call
	defer cancel()

	metadata, err := structpb.NewStruct(map[string]any{"example": "client", "language": "go"})
	if err != nil {
		return err
	}
	thread, err := threads.CreateThread(ctx, &threadlinev1.CreateThreadRequest{
		Thread: &threadlinev1.Thread{Title: "Go example", Metadata: metadata},
	})
	if err != nil {
		return fmt.Errorf("CreateThread: %w", err)
	}
	if !proto.Equal(thread.GetMetadata(), metadata) {
		return fmt.Errorf("the thread came back with metadata %v", thread.GetMetadata())
	}
	shown, _ := json.Marshal(thread.GetMetadata().AsMap())
	fmt.Printf("thread %s created with metadata %s\n", thread.GetThreadId(), shown)

	var written []string
	for _, text := range []string{"Hello from Go.", "Is anyone there?"} {
		message, err := messages.CreateMessage(ctx, &threadlinev1.CreateMessageRequest{
			ThreadId: thread.GetThreadId(),
			Message:  userMessage(text),
		})
		if err != nil {
			return fmt.Errorf("CreateMessage: %w", err)
		}
		fmt.Printf("message %s appended\n", message.GetMessageId())
		written = append(written, message.GetMessageId())
	}

	// One message per page: follow next_page_token until it comes back empty.
	var listed []string
	pages := 0
	for token := ""; ; {
		page, err := messages.ListMessages(ctx, &threadlinev1.ListMessagesRequest{
			ThreadId: thread.GetThreadId(), PageSize: 1, PageToken: token,
		})
		if err != nil {
			return fmt.Errorf("ListMessages: %w", err)
		}
		pages++
		for _, message := range page.GetMessages() {
			fmt.Printf("page %d: message %s\n", pages, message.GetMessageId())
			listed = append(listed, message.GetMessageId())
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if !slices.Equal(listed, written) {
		return fmt.Errorf("listed %v, expected %v", listed, written)
	}
	fmt.Printf("listed %d messages in %d pages\n", len(listed), pages)

	// StreamRun creates the run and streams its events as they happen.
	const input = "The quick brown fox jumps over the lazy dog"
	stream, err := runs.StreamRun(ctx, &threadlinev1.CreateRunRequest{
		ThreadId:      thread.GetThreadId(),
		AgentId:       "echo",
		InputMessages: []*threadlinev1.Message{userMessage(input)},
	})
	if err != nil {
		return fmt.Errorf("StreamRun: %w", err)
	}
	var answer strings.Builder
	last := ""
	for {
		event, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("StreamRun: %w", err)
		}
		if delta := event.GetDelta(); delta != nil {
			answer.WriteString(delta.GetText())
			fmt.Printf("event %d %s %q\n", event.GetEventId(), event.GetType(), delta.GetText())
		} else {
			fmt.Printf("event %d %s\n", event.GetEventId(), event.GetType())
		}
		last = event.GetType()
	}
	if last != "run.completed" {
		return fmt.Errorf("the run ended with %q, not run.completed", last)
	}
	if answer.String() != input {
		return fmt.Errorf("the deltas make %q, not the input", answer.String())
	}
	fmt.Printf("run answered %q\n", answer.String())

	if _, err := threads.DeleteThread(ctx, &threadlinev1.DeleteThreadRequest{ThreadId: thread.GetThreadId()}); err != nil {
		return fmt.Errorf("DeleteThread: %w", err)
	}
	fmt.Printf("thread %s deleted\n", thread.GetThreadId())
	return nil
}

func userMessage(text string) *threadlinev1.Message {
	return &threadlinev1.Message{
		Role:  threadlinev1.MessageRole_MESSAGE_ROLE_USER,
		Parts: []*threadlinev1.Part{{Kind: &threadlinev1.Part_Text{Text: text}}},
	}
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
