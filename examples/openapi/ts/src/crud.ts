// Threadline over HTTP/JSON from TypeScript, with a client made from the served
// OpenAPI 3.1 document: openapi-typescript turns /openapi.json into
// src/threadline.d.ts, and openapi-fetch makes typed calls with it. Against a
// running server it creates, reads, renames and lists a thread; creates, reads,
// lists, labels and deletes its messages; then deletes the thread. Any failure
// ends it with exit code 1 (docs/openapi.md).
//
//   npx openapi-typescript http://localhost:8080/openapi.json -o src/threadline.d.ts
//   npx tsx src/crud.ts http://localhost:8080
import createClient from "openapi-fetch";
import type { components, paths } from "./threadline.js";

type Status = components["schemas"]["Status"];

const baseUrl = process.argv[2] ?? "http://localhost:8080";
const client = createClient<paths>({ baseUrl });

function check(ok: boolean, what: string): asserts ok {
  if (!ok) throw new Error(what);
}

// openapi-fetch gives the parsed body as data (2xx) or as error (the Status of a failure).
function ok<T>(result: { data?: T; error?: Status; response: Response }, what: string): T {
  if (result.data === undefined) {
    throw new Error(`${what}: HTTP ${result.response.status} ${JSON.stringify(result.error)}`);
  }
  return result.data;
}

async function main(): Promise<void> {
  const externalRef = `openapi-typescript-${process.pid}-${Date.now()}`;
  const thread = ok(
    await client.POST("/v1/threads", {
      body: { thread: { title: "OpenAPI TypeScript example", externalRef, metadata: { language: "typescript" } } },
    }),
    "create thread",
  );
  // Unset message fields come back as null, and the types say so.
  check(thread.locale === null && thread.ttl === null, "an unset locale or ttl is not null");
  console.log(`thread ${thread.threadId} created: ${JSON.stringify(thread.title)}`);

  const threadPath = { path: { thread_id: thread.threadId } };
  const read = ok(await client.GET("/v1/threads/{thread_id}", { params: threadPath }), "get thread");
  check(read.etag === thread.etag, "the thread read back is not the one created");

  // PATCH: the body's keys are the fields to change (the update mask).
  const renamed = ok(
    await client.PATCH("/v1/threads/{thread_id}", { params: threadPath, body: { title: "Renamed" } }),
    "update thread",
  );
  check(renamed.title === "Renamed" && renamed.etag !== thread.etag, "the thread was not renamed");
  console.log(`thread ${renamed.threadId} renamed: ${JSON.stringify(renamed.title)}`);

  const listed = ok(
    await client.GET("/v1/threads", { params: { query: { "filter.externalRef": externalRef, pageSize: 10 } } }),
    "list threads",
  );
  check(listed.threads.map((t) => t.threadId).join() === thread.threadId, "the filtered list is not the thread");
  console.log(`listed ${listed.threads.length} thread by its externalRef`);

  const written: string[] = [];
  for (const text of ["Hello over HTTP.", "Is anyone there?"]) {
    const message = ok(
      await client.POST("/v1/threads/{thread_id}/messages", {
        params: threadPath,
        body: { role: "MESSAGE_ROLE_USER", parts: [{ text }] },
      }),
      "create message",
    );
    console.log(`message ${message.messageId} created`);
    written.push(message.messageId);
  }
  const [first, second] = written;
  check(first !== undefined && second !== undefined, "two messages were not created");
  const firstPath = { path: { thread_id: thread.threadId, message_id: first } };
  const message = ok(await client.GET("/v1/threads/{thread_id}/messages/{message_id}", { params: firstPath }), "get message");
  check(message.parts[0]?.text === "Hello over HTTP.", "the message read back has other text");

  const page = ok(
    await client.GET("/v1/threads/{thread_id}/messages", { params: { ...threadPath, query: { pageSize: 10 } } }),
    "list messages",
  );
  check(page.messages.map((m) => m.messageId).join() === written.join(), "the messages are not listed in order");
  console.log(`listed ${page.messages.length} messages`);

  const labelled = ok(
    await client.PATCH("/v1/threads/{thread_id}/messages/{message_id}", {
      params: firstPath,
      body: { metadata: { label: "greeting" } },
    }),
    "update message",
  );
  check(labelled.metadata?.["label"] === "greeting", "the message's metadata was not changed");
  console.log(`message ${labelled.messageId} labelled ${JSON.stringify(labelled.metadata)}`);

  const secondPath = { path: { thread_id: thread.threadId, message_id: second } };
  ok(await client.DELETE("/v1/threads/{thread_id}/messages/{message_id}", { params: secondPath }), "delete message");
  const left = ok(await client.GET("/v1/threads/{thread_id}/messages", { params: threadPath }), "list messages");
  check(left.messages.map((m) => m.messageId).join() === first, "the deleted message is still listed");
  console.log(`message ${second} deleted, ${left.messages.length} left`);

  ok(await client.DELETE("/v1/threads/{thread_id}", { params: threadPath }), "delete thread");
  const gone = await client.GET("/v1/threads/{thread_id}", { params: threadPath });
  check(gone.response.status === 404 && gone.error?.code === 5, "the deleted thread can still be read");
  console.log(`thread ${thread.threadId} deleted: ${gone.error.message}`);
  console.log(`OK: the openapi-fetch client passed every step against ${baseUrl}`);
}

main().catch((error: unknown) => {
  console.error(`FAIL: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
