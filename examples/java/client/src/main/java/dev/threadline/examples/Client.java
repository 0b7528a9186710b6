package dev.threadline.examples;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.threadline.v1.CreateMessageRequest;
import dev.threadline.v1.CreateRunRequest;
import dev.threadline.v1.CreateThreadRequest;
import dev.threadline.v1.DeleteThreadRequest;
import dev.threadline.v1.ListMessagesRequest;
import dev.threadline.v1.ListMessagesResponse;
import dev.threadline.v1.Message;
import dev.threadline.v1.MessageRole;
import dev.threadline.v1.MessageServiceGrpc;
import dev.threadline.v1.Part;
import dev.threadline.v1.RunEvent;
import dev.threadline.v1.RunServiceGrpc;
import dev.threadline.v1.Thread;
import dev.threadline.v1.ThreadServiceGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * A Threadline client in Java, over the stubs in generated/java. Against a running server it
 * creates a thread, appends messages, pages through them, streams an echo run, and deletes the
 * thread; any failure ends it with exit code 1.
 *
 * <pre>java -jar target/threadline-client.jar --target localhost:50051</pre>
 */
public final class Client {
  public static void main(String[] args) throws InterruptedException {
    String target = System.getenv().getOrDefault("THREADLINE_TARGET", "localhost:50051");
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--target") && i + 1 < args.length) {
        target = args[++i];
      } else if (args[i].startsWith("--target=")) {
        target = args[i].substring("--target=".length());
      } else {
        System.err.println("usage: Client [--target host:port]");
        System.exit(2);
      }
    }
    ManagedChannel channel =
        Grpc.newChannelBuilder(target, InsecureChannelCredentials.create()).build();
    try {
      run(channel);
      System.out.println("OK: Java client passed every step against " + target);
    } catch (StatusRuntimeException | IllegalStateException e) {
      System.err.println("FAIL: " + e.getMessage()); // a gRPC error reads "CODE: description"
      System.exit(1);
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  static void run(ManagedChannel channel) {
    // A deadline on every call (a stub's deadline counts from when it is set).
    var threads = ThreadServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    var messages = MessageServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    var runs = RunServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);

    Struct metadata =
        Struct.newBuilder()
            .putFields("example", Value.newBuilder().setStringValue("client").build())
            .putFields("language", Value.newBuilder().setStringValue("java").build())
            .build();
    Thread thread =
        threads.createThread(
            CreateThreadRequest.newBuilder()
                .setThread(Thread.newBuilder().setTitle("Java example").setMetadata(metadata))
                .build());
    check(thread.getMetadata().equals(metadata), "the thread came back with other metadata");
    var shown = new TreeMap<String, String>();
    thread.getMetadata().getFieldsMap().forEach((key, value) -> shown.put(key, value.getStringValue()));
    System.out.println("thread " + thread.getThreadId() + " created with metadata " + shown);

    List<String> written = new ArrayList<>();
    for (String text : List.of("Hello from Java.", "Is anyone there?")) {
      Message message =
          messages.createMessage(
              CreateMessageRequest.newBuilder()
                  .setThreadId(thread.getThreadId())
                  .setMessage(userMessage(text))
                  .build());
      System.out.println("message " + message.getMessageId() + " appended");
      written.add(message.getMessageId());
    }

    // One message per page: follow next_page_token until it comes back empty.
    List<String> listed = new ArrayList<>();
    int pages = 0;
    String token = "";
    do {
      ListMessagesResponse page =
          messages.listMessages(
              ListMessagesRequest.newBuilder()
                  .setThreadId(thread.getThreadId())
                  .setPageSize(1)
                  .setPageToken(token)
                  .build());
      pages++;
      for (Message message : page.getMessagesList()) {
        System.out.println("page " + pages + ": message " + message.getMessageId());
        listed.add(message.getMessageId());
      }
      token = page.getNextPageToken();
    } while (!token.isEmpty());
    check(listed.equals(written), "listed " + listed + ", expected " + written);
    System.out.println("listed " + listed.size() + " messages in " + pages + " pages");

    // StreamRun creates the run and streams its events as they happen.
    String input = "The quick brown fox jumps over the lazy dog";
    Iterator<RunEvent> events =
        runs.streamRun(
            CreateRunRequest.newBuilder()
                .setThreadId(thread.getThreadId())
                .setAgentId("echo")
                .addInputMessages(userMessage(input))
                .build());
    StringBuilder answer = new StringBuilder();
    String last = "";
    while (events.hasNext()) {
      RunEvent event = events.next();
      if (event.hasDelta()) {
        answer.append(event.getDelta().getText());
        System.out.println(
            "event " + event.getEventId() + " " + event.getType() + " " + quote(event.getDelta().getText()));
      } else {
        System.out.println("event " + event.getEventId() + " " + event.getType());
      }
      last = event.getType();
    }
    check(last.equals("run.completed"), "the run ended with " + quote(last) + ", not run.completed");
    check(answer.toString().equals(input), "the deltas make " + quote(answer.toString()) + ", not the input");
    System.out.println("run answered " + quote(answer.toString()));

    threads.deleteThread(DeleteThreadRequest.newBuilder().setThreadId(thread.getThreadId()).build());
    System.out.println("thread " + thread.getThreadId() + " deleted");
  }

  static Message userMessage(String text) {
    return Message.newBuilder()
        .setRole(MessageRole.MESSAGE_ROLE_USER)
        .addParts(Part.newBuilder().setText(text))
        .build();
  }

  static void check(boolean ok, String what) {
    if (!ok) {
      throw new IllegalStateException(what);
    }
  }

  static String quote(String text) {
    return "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  private Client() {}
}
