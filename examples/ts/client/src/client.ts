// A Threadline client in TypeScript: Connect's gRPC transport (HTTP/2) over the
// stubs in generated/ts (@threadline/api). Against a running server it creates
// a thread, appends messages, pages through them, streams an echo run, and
// deletes the thread; any failure ends it with exit code 1.
//
//   npm ci && npm start -- --target localhost:50051
import { isDeepStrictEqual, parseArgs } from "node:util";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { MessageRole, MessageSchema, MessageService } from "@threadline/api/threadline/v1/message_pb.js";
import { RunService } from "@threadline/api/threadline/v1/run_pb.js";
import { ThreadService } from "@threadline/api/threadline/v1/thread_pb.js";

const { values: flags } = parseArgs({
  options: { target: { type: "string", default: process.env.THREADLINE_TARGET ?? "localhost:50051" } },
});
// Connect names the server with a URL; the gRPC transport speaks HTTP/2 without TLS to http:// URLs.
const transport = createGrpcTransport({ baseUrl: `http://${flags.target}` });
const threads = createClient(ThreadService, transport);
const messages = createClient(MessageService, transport);
const runs = createClient(RunService, transport);
const call = { timeoutMs: 10_000 }; // a deadline on every call

// A plain object in the shape of a Message; Connect makes the message from it.
function userMessage(text: string): MessageInitShape<typeof MessageSchema> {
  return { role: MessageRole.USER, parts: [{ kind: { case: "text", value: text } }] };
}

function check(ok: boolean, what: string): asserts ok {
  if (!ok) throw new Error(what);
}

async function main(): Promise<void> {
  const metadata = { example: "client", language: "typescript" };
  const thread = await threads.createThread({ thread: { title: "TypeScript example", metadata } }, call);
  check(isDeepStrictEqual(thread.metadata, metadata), "the thread came back with other metadata");
  const shown = JSON.stringify(thread.metadata, Object.keys(metadata).sort());
  console.log(`thread ${thread.threadId} created with metadata ${shown}`);

  const written: string[] = [];
  for (const text of ["Hello from TypeScript.", "Is anyone there?"]) {
    const message = await messages.createMessage({ threadId: thread.threadId, message: userMessage(text) }, call);
    console.log(`message ${message.messageId} appended`);
    written.push(message.messageId);
  }

  // One message per page: follow next_page_token until it comes back empty.
  const listed: string[] = [];
  let pageToken = "";
  let pages = 0;
  do {
    const page = await messages.listMessages({ threadId: thread.threadId, pageSize: 1, pageToken }, call);
    pages += 1;
    for (const message of page.messages) {
      console.log(`page ${pages}: message ${message.messageId}`);
      listed.push(message.messageId);
    }
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  check(listed.join() === written.join(), `listed ${listed.join()}, expected ${written.join()}`);
  console.log(`listed ${listed.length} messages in ${pages} pages`);

  // StreamRun creates the run and streams its events as they happen.
  const input = "The quick brown fox jumps over the lazy dog";
  let answer = "";
  let last = "";
  const request = { threadId: thread.threadId, agentId: "echo", inputMessages: [userMessage(input)] };
  for await (const event of runs.streamRun(request, { timeoutMs: 30_000 })) {
    if (event.payload.case === "delta") {
      answer += event.payload.value.text;
      console.log(`event ${event.eventId} ${event.type} ${JSON.stringify(event.payload.value.text)}`);
    } else {
      console.log(`event ${event.eventId} ${event.type}`);
    }
    last = event.type;
  }
  check(last === "run.completed", `the run ended with ${last || "no event"}, not run.completed`);
  check(answer === input, `the deltas make ${JSON.stringify(answer)}, not the input`);
  console.log(`run answered ${JSON.stringify(answer)}`);

  await threads.deleteThread({ threadId: thread.threadId }, call);
  console.log(`thread ${thread.threadId} deleted`);
  console.log(`OK: TypeScript client passed every step against ${flags.target}`);
}

main().catch((error: unknown) => {
  if (error instanceof ConnectError) {
    console.error(`FAIL: ${Code[error.code]}: ${error.rawMessage}`);
  } else {
    console.error(`FAIL: ${error instanceof Error ? error.message : String(error)}`);
  }
  process.exit(1);
});
