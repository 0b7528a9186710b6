// Command worker serves the runs of one agent over AgentWorkerService, in Go:
// the same toy agent as examples/python/worker.py. Start a server that leaves
// the agent's runs to workers, then this worker:
//
//	threadline serve --worker-agent shouter
//	go run ./worker --agent shouter
//
// Any run created for agent shouter is now answered by this process. The toy
// agent reads the thread's newest user message, counts its words with a
// word_count tool of its own, and answers with the message shouted (upper
// case), streamed word by word. It keeps a count of its shouts in the
// thread's state. What it shows, for a worker in any language:
//
//   - ClaimRun long-polls (wait) for the next queued run and takes a lease on it.
//   - ReportRunEvents records what the agent does, a few events per call, in
//     order: iteration_started, tool_call_started / tool_call_finished,
//     text_delta, usage, and finally finish. Every report also renews the lease.
//   - A goroutine renews the lease with RenewLease while the agent works, so a
//     slow step (a model call, a long tool) does not lose the run.
//   - ClaimRun's answer carries the thread's state (a JSON object the thread's
//     agents keep between runs); a state_update event changes it, merging in the
//     keys it sets. With --fail-after-state the worker changes the state, then
//     reports the run FAILED: the server puts the state back as it was.
//   - With --confirm it asks a person first: it reports a requires_action event
//     with a question ("May I shout ...?", whose answer must be
//     {"approved": true} or false), and the run pauses in REQUIRES_ACTION. The
//     answer says paused: the worker drops the run and claims the next. Once a
//     client calls ResumeRun, the run is QUEUED again and comes back through
//     ClaimRun with action_response set: the worker shouts if approved, and
//     answers NOT APPROVED otherwise.
//   - When any answer says cancelled (a client called CancelRun), the worker
//     stops working on the run at once; the run has already ended.
//   - FAILED_PRECONDITION with reason LEASE_LOST means the run is no longer
//     this worker's (its lease ran out, or the run ended): the worker drops it.
//   - Any other error is unexpected: the worker logs it and exits 1, and the
//     run it held fails with LEASE_EXPIRED once its lease runs out.
//
// On SIGINT or SIGTERM it reports the run it holds as FAILED (WORKER_STOPPED)
// and exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	threadlinev1 "github.com/threadline/threadline/generated/go/threadline/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
)

// How long one call (other than ClaimRun's long poll) may take.
const rpcTimeout = 10 * time.Second

var (
	// A word with the whitespace after it, or leading whitespace: the chunks
	// join back into exactly the original text.
	chunkPattern = regexp.MustCompile(`\S+\s*|\s+`)
	wordPattern  = regexp.MustCompile(`\S+`)
)

type options struct {
	target, agent, workerID       string
	once, useTool, failAfterState bool
	confirm                       bool
	lease, wait, delay            time.Duration
	batch                         int
}

// dropped says why a run is no longer this worker's.
type dropped struct{ why string }

func (d dropped) Error() string { return d.why }

// A lease is a claimed run; its context ends when the worker must stop working on it.
type lease struct {
	run      *threadlinev1.Run
	id       string
	messages []*threadlinev1.Message
	state    *threadlinev1.ThreadState
	// ctx ends when the run is dropped; calls ctx ends only when the worker
	// stops, so a report in flight is not cut off by a renewal that found the
	// run over: the report's own answer says whether the server recorded it.
	ctx   context.Context
	calls context.Context
	drop  context.CancelCauseFunc
}

// check returns the reason the run was dropped, or nil while it is still ours.
func (l *lease) check() error {
	if l.ctx.Err() != nil {
		return context.Cause(l.ctx)
	}
	return nil
}

type worker struct {
	stub threadlinev1.AgentWorkerServiceClient
	opts options
}

func main() {
	opts := parseFlags()
	log.SetFlags(log.LstdFlags)
	log.SetPrefix("worker ")
	conn, err := grpc.NewClient(opts.target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err = (&worker{threadlinev1.NewAgentWorkerServiceClient(conn), opts}).serve(ctx)
	stop()
	conn.Close()
	if ctx.Err() != nil {
		log.Print("stopped")
		return
	}
	if err != nil {
		log.Printf("unexpected error from the server: %v (reason %s)", err, reasonOf(err))
		os.Exit(1)
	}
}

func parseFlags() options {
	host, _ := os.Hostname()
	target := flag.String("target", envOr("THREADLINE_TARGET", "localhost:50051"), "the server's host:port")
	agent := flag.String("agent", "shouter", "the agent whose runs to serve")
	workerID := flag.String("worker-id", fmt.Sprintf("%s-%d", host, os.Getpid()),
		"this worker's name in the server's records")
	once := flag.Bool("once", false, "serve one run, then exit")
	leaseSeconds := flag.Float64("lease-seconds", 15, "lease duration, 1 to 600")
	waitSeconds := flag.Float64("wait-seconds", 20, "how long each ClaimRun waits for a run, 0 to 60")
	batch := flag.Int("batch", 3, "text deltas per ReportRunEvents")
	delayMS := flag.Int("delay-ms", 0, "pause before each word, to watch it stream")
	noTool := flag.Bool("no-tool", false, "answer without calling the word_count tool")
	failAfterState := flag.Bool("fail-after-state", false,
		"change the thread's state, then report the run FAILED (the server undoes the change)")
	confirm := flag.Bool("confirm", false,
		"ask a person for approval (a requires_action question) before answering")
	flag.Parse()
	if *leaseSeconds < 1 || *leaseSeconds > 600 || *waitSeconds < 0 || *waitSeconds > 60 || *batch < 1 || *delayMS < 0 {
		fmt.Fprintln(os.Stderr,
			"--lease-seconds must be 1 to 600, --wait-seconds 0 to 60, --batch at least 1, --delay-ms not negative")
		os.Exit(2)
	}
	seconds := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	return options{
		target: *target, agent: *agent, workerID: *workerID, once: *once, useTool: !*noTool,
		failAfterState: *failAfterState, confirm: *confirm,
		lease: seconds(*leaseSeconds), wait: seconds(*waitSeconds),
		delay: time.Duration(*delayMS) * time.Millisecond, batch: *batch,
	}
}

// serve claims and serves runs until ctx ends (or after one run, with --once).
func (w *worker) serve(ctx context.Context) error {
	log.Printf("serving agent %s as worker %s", w.opts.agent, w.opts.workerID)
	for {
		l, err := w.claim(ctx)
		if err != nil {
			return err
		}
		if l == nil {
			continue
		}
		if err := w.serveRun(ctx, l); err != nil {
			return err
		}
		if w.opts.once {
			return nil
		}
	}
}

// claim waits up to --wait-seconds for a run; it returns the run with its lease, or nil.
func (w *worker) claim(ctx context.Context) (*lease, error) {
	callCtx, cancel := context.WithTimeout(ctx, w.opts.wait+rpcTimeout)
	defer cancel()
	response, err := w.stub.ClaimRun(callCtx, &threadlinev1.ClaimRunRequest{
		AgentId:       w.opts.agent,
		WorkerId:      w.opts.workerID,
		LeaseDuration: durationpb.New(w.opts.lease),
		Wait:          durationpb.New(w.opts.wait),
	}, grpc.WaitForReady(true)) // wait for the server to be reachable rather than fail at once
	if err != nil || response.GetRun() == nil {
		return nil, err
	}
	l := &lease{
		run: response.GetRun(), id: response.GetLeaseId(), messages: response.GetMessages(),
		state: response.GetState(),
	}
	l.ctx, l.drop = context.WithCancelCause(ctx)
	l.calls = ctx
	log.Printf("claimed run %s on thread %s", l.run.GetRunId(), l.run.GetThreadId())
	return l, nil
}

// serveRun runs the agent on a claimed run, renewing its lease in the background.
func (w *worker) serveRun(ctx context.Context, l *lease) error {
	renewed := make(chan struct{})
	go func() { defer close(renewed); w.keepRenewing(l) }()
	err := w.shout(l)
	l.drop(dropped{"is done"}) // stops the renewer
	<-renewed
	var why dropped
	switch {
	case err == nil:
		log.Printf("run %s completed", l.run.GetRunId())
	case ctx.Err() != nil:
		// Stopped by a signal: say so, rather than leave the run to its lease.
		w.giveUp(l)
	case errors.As(err, &why):
		log.Printf("run %s %s; dropped it", l.run.GetRunId(), why.why)
	default:
		return err
	}
	return nil
}

// shout is the toy agent: it counts the words with a tool, then answers in capitals.
func (w *worker) shout(l *lease) error {
	question := lastUserMessage(l.messages)
	text := messageText(question)
	if w.opts.confirm {
		response := l.run.GetActionResponse()
		if response == nil {
			return w.askApproval(l, text)
		}
		approved := response.GetAnswer().GetStructValue().GetFields()["approved"].GetBoolValue()
		if !approved {
			return w.report(l, iteration(),
				&threadlinev1.WorkerEvent{Kind: &threadlinev1.WorkerEvent_TextDelta{TextDelta: "NOT APPROVED"}},
				&threadlinev1.WorkerEvent{Kind: &threadlinev1.WorkerEvent_Finish{Finish: &threadlinev1.RunFinished{
					Status: threadlinev1.RunStatus_RUN_STATUS_COMPLETED,
				}}})
		}
	}
	if err := w.report(l, iteration()); err != nil {
		return err
	}
	if w.opts.useTool && question != nil {
		if err := w.callWordCount(l, question); err != nil {
			return err
		}
		// A second iteration: the agent reads the tool's answer and replies.
		if err := w.report(l, iteration()); err != nil {
			return err
		}
	}
	answer := strings.ToUpper(text)
	var pending []*threadlinev1.WorkerEvent
	for _, chunk := range chunkPattern.FindAllString(answer, -1) {
		if err := w.pause(l); err != nil {
			return err
		}
		pending = append(pending, &threadlinev1.WorkerEvent{Kind: &threadlinev1.WorkerEvent_TextDelta{TextDelta: chunk}})
		if len(pending) >= w.opts.batch {
			if err := w.report(l, pending...); err != nil {
				return err
			}
			pending = nil
		}
	}
	prompt := int64(0)
	for _, m := range l.messages {
		prompt += wordCount(messageText(m))
	}
	completion := wordCount(answer)
	// The count of shouts on this thread, kept in its state: read as the run
	// started, changed by a state_update (keys not set keep their values).
	shouts := l.state.GetValues().GetFields()["shouts"].GetNumberValue()
	values, _ := structpb.NewStruct(map[string]any{"shouts": shouts + 1, "last_shout": answer})
	pending = append(pending,
		&threadlinev1.WorkerEvent{Kind: &threadlinev1.WorkerEvent_StateUpdate{StateUpdate: &threadlinev1.StateUpdate{
			Values: values,
		}}})
	if w.opts.failAfterState {
		pending = append(pending, &threadlinev1.WorkerEvent{Kind: &threadlinev1.WorkerEvent_Finish{Finish: &threadlinev1.RunFinished{
			Status: threadlinev1.RunStatus_RUN_STATUS_FAILED,
			Error:  &threadlinev1.RunError{Code: "SHOUT_FAILED", Message: "failed after changing the state, on purpose"},
		}}})
		if err := w.report(l, pending...); err != nil {
			return err
		}
		return dropped{"failed on purpose"}
	}
	pending = append(pending,
		&threadlinev1.WorkerEvent{Kind: &threadlinev1.WorkerEvent_Usage{Usage: &threadlinev1.Usage{
			PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion,
		}}},
		&threadlinev1.WorkerEvent{Kind: &threadlinev1.WorkerEvent_Finish{Finish: &threadlinev1.RunFinished{
			Status: threadlinev1.RunStatus_RUN_STATUS_COMPLETED,
		}}},
	)
	return w.report(l, pending...)
}

// askApproval pauses the run with a question for a person; the run comes back once answered.
func (w *worker) askApproval(l *lease, text string) error {
	schema, _ := structpb.NewStruct(map[string]any{
		"type":       "object",
		"properties": map[string]any{"approved": map[string]any{"type": "boolean"}},
		"required":   []any{"approved"},
	})
	ask := &threadlinev1.RequiredAction{Kind: &threadlinev1.RequiredAction_Question{Question: &threadlinev1.Question{
		Text:         fmt.Sprintf("May I shout %q?", text),
		AnswerSchema: schema,
	}}}
	return w.report(l, iteration(),
		&threadlinev1.WorkerEvent{Kind: &threadlinev1.WorkerEvent_RequiresAction{RequiresAction: ask}})
}

// callWordCount calls the worker's own word_count tool on a message, reporting the call.
func (w *worker) callWordCount(l *lease, message *threadlinev1.Message) error {
	arguments, _ := structpb.NewStruct(map[string]any{"message_id": message.GetMessageId()})
	call := &threadlinev1.ToolCall{
		Id: fmt.Sprintf("call_%d", time.Now().UnixNano()), Name: "word_count", Arguments: arguments,
	}
	started := &threadlinev1.WorkerEvent{Kind: &threadlinev1.WorkerEvent_ToolCallStarted{ToolCallStarted: call}}
	if err := w.report(l, started); err != nil {
		return err
	}
	began := time.Now()
	output, _ := structpb.NewValue(map[string]any{"words": wordCount(messageText(message))})
	result := &threadlinev1.ToolResult{ToolCallId: call.GetId(), Output: &threadlinev1.ToolResult_Json{Json: output}}
	return w.report(l, &threadlinev1.WorkerEvent{Kind: &threadlinev1.WorkerEvent_ToolCallFinished{
		ToolCallFinished: &threadlinev1.ToolCallFinished{Result: result, DurationMs: time.Since(began).Milliseconds()},
	}})
}

// pause waits --delay-ms before the next word, waking at once if the run is dropped.
func (w *worker) pause(l *lease) error {
	if w.opts.delay > 0 {
		select {
		case <-time.After(w.opts.delay):
		case <-l.ctx.Done():
		}
	}
	return l.check()
}

// report sends events under the lease; it returns a dropped error when the run is not ours.
func (w *worker) report(l *lease, events ...*threadlinev1.WorkerEvent) error {
	if err := l.check(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(l.calls, rpcTimeout)
	defer cancel()
	response, err := w.stub.ReportRunEvents(ctx, &threadlinev1.ReportRunEventsRequest{
		RunId: l.run.GetRunId(), LeaseId: l.id, Events: events,
	})
	switch {
	case isLeaseLost(err):
		l.drop(dropped{"lost its lease"})
	case err != nil && l.ctx.Err() != nil: // stopped by a signal while the call was in flight
		return l.check()
	case err != nil:
		return err
	case response.GetCancelled():
		l.drop(dropped{"was cancelled"})
	case response.GetPaused():
		// It comes back through ClaimRun once someone resumes it.
		l.drop(dropped{"paused for approval"})
	case events[len(events)-1].GetFinish() != nil:
		// The server recorded the run's end. A renewal that crossed this call
		// and found the run already over must not turn it into a lost one.
		return nil
	case response.GetEnded():
		// For instance, one iteration more than the run's max_iterations.
		l.drop(dropped{"was ended by the server"})
	}
	return l.check()
}

// keepRenewing renews the lease a few times per lease period until the run is done or dropped.
func (w *worker) keepRenewing(l *lease) {
	ticker := time.NewTicker(w.opts.lease / 3)
	defer ticker.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-ticker.C:
		}
		ctx, cancel := context.WithTimeout(l.ctx, rpcTimeout)
		response, err := w.stub.RenewLease(ctx, &threadlinev1.RenewLeaseRequest{RunId: l.run.GetRunId(), LeaseId: l.id})
		cancel()
		switch {
		case isLeaseLost(err):
			l.drop(dropped{"lost its lease"})
		case l.ctx.Err() != nil:
		case err != nil:
			// Perhaps a blip: try again at the next tick, while the lease lasts.
			log.Printf("could not renew the lease on run %s: %v", l.run.GetRunId(), err)
		case response.GetCancelled():
			l.drop(dropped{"was cancelled"})
		}
	}
}

// giveUp reports the run FAILED because this worker is stopping (best effort).
func (w *worker) giveUp(l *lease) {
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	_, err := w.stub.ReportRunEvents(ctx, &threadlinev1.ReportRunEventsRequest{
		RunId: l.run.GetRunId(), LeaseId: l.id,
		Events: []*threadlinev1.WorkerEvent{{Kind: &threadlinev1.WorkerEvent_Finish{Finish: &threadlinev1.RunFinished{
			Status: threadlinev1.RunStatus_RUN_STATUS_FAILED,
			Error: &threadlinev1.RunError{
				Code:    "WORKER_STOPPED",
				Message: fmt.Sprintf("worker %s stopped while serving the run", w.opts.workerID),
			},
		}}}},
	})
	if err == nil {
		log.Printf("run %s reported FAILED: the worker is stopping", l.run.GetRunId())
	}
}

// reasonOf returns the ErrorInfo reason Threadline puts in every error, or "none".
// The rich status travels in the grpc-status-details-bin trailer; status decodes it.
func reasonOf(err error) string {
	for _, detail := range status.Convert(err).Details() {
		if info, ok := detail.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return "none"
}

func isLeaseLost(err error) bool {
	return status.Code(err) == codes.FailedPrecondition && reasonOf(err) == "LEASE_LOST"
}

func iteration() *threadlinev1.WorkerEvent {
	return &threadlinev1.WorkerEvent{
		Kind: &threadlinev1.WorkerEvent_IterationStarted{IterationStarted: &threadlinev1.IterationStarted{}},
	}
}

func lastUserMessage(messages []*threadlinev1.Message) *threadlinev1.Message {
	for i := len(messages) - 1; i >= 0; i-- {
		if messages[i].GetRole() == threadlinev1.MessageRole_MESSAGE_ROLE_USER {
			return messages[i]
		}
	}
	return nil
}

func messageText(message *threadlinev1.Message) string {
	var text strings.Builder
	for _, part := range message.GetParts() {
		text.WriteString(part.GetText())
	}
	return text.String()
}

func wordCount(text string) int64 { return int64(len(wordPattern.FindAllString(text, -1))) }

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
