// Follows Threadline's Server-Sent Events with EventSource (the `eventsource`
// package, which behaves as a browser's EventSource): one listener per event
// type, and resumption with Last-Event-ID whenever the stream breaks. It prints
// one JSON line per event: the listener it reached, its id, and the RunEvent's
// eventId and type, and its message's id or its delta's text (docs/openapi.md).
//
//   npx tsx src/events.ts http://localhost:8080/v1/runs/$RUN/events message.delta run.completed
//
// It ends when the server says there is nothing more (204 when it reconnects
// after a run's last event), or after --count events. --header 'Name: value'
// adds a request header (a browser's EventSource cannot; this package can).
import { parseArgs } from "node:util";
import { EventSource } from "eventsource";

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { count: { type: "string" }, header: { type: "string", multiple: true } },
});
const [url, ...types] = positionals;
if (url === undefined) {
  console.error("usage: events.ts URL [EVENT_TYPE ...] [--count N] [--header 'Name: value']");
  process.exit(2);
}
const headers: Record<string, string> = {};
for (const header of flags.header ?? []) {
  const colon = header.indexOf(":");
  headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
}
const count = flags.count === undefined ? Infinity : Number(flags.count);

let received = 0;
let opened = 0;
const source = new EventSource(url, {
  fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, ...headers } }),
});

// A RunEvent's JSON, as much of it as this prints.
interface RunEvent {
  eventId: string;
  type: string;
  message?: { messageId: string };
  delta?: { text: string };
}

function print(listener: string, event: MessageEvent<string>): void {
  const data = JSON.parse(event.data) as RunEvent;
  const { eventId, type } = data;
  const [message, text] = [data.message?.messageId, data.delta?.text];
  console.log(JSON.stringify({ listener, id: event.lastEventId, eventId, type, message, text }));
}

for (const type of types) {
  source.addEventListener(type, (event) => {
    print(type, event);
    received += 1;
    if (received >= count) {
      source.close();
    }
  });
}
// Events without an `event:` line would come here; Threadline names every event.
source.onmessage = (event) => print("message", event);
source.onopen = () => {
  opened += 1;
  console.log(JSON.stringify({ open: opened }));
};
// An `event: error` from the server carries a Status; a failed connection carries none.
source.addEventListener("error", (event) => {
  if (event instanceof MessageEvent) {
    console.log(JSON.stringify({ listener: "error", status: JSON.parse(event.data as string) }));
  } else if (source.readyState === EventSource.CLOSED) {
    console.log(JSON.stringify({ closed: (event as Event & { code?: number }).code ?? null }));
  }
});
