package dev.threadline.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * RunService starts agents on threads and lets clients watch them work.
 * A run is one turn of an agent on a thread: it reads the thread, thinks in
 * iterations, calls tools, writes its answer as messages, and reports what it
 * did. Everything a run does is recorded as RunEvents, written to the store
 * before any client sees them, so a client can lose its stream and resume
 * from the last event id it got with nothing missed and nothing repeated.
 * Every call answers INVALID_ARGUMENT with reason VALIDATION_ERROR and a
 * BadRequest naming each bad field when the request is malformed (reason
 * MALFORMED_REQUEST when its bytes are not a valid message at all), NOT_FOUND
 * with reason THREAD_NOT_FOUND or RUN_NOT_FOUND for an unknown thread or run,
 * and writes nothing when it fails. No reply and no streamed event is larger
 * than 4 MiB, the default most a gRPC client accepts.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class RunServiceGrpc {

  private RunServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "threadline.v1.RunService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.CreateRunRequest,
      dev.threadline.v1.Run> getCreateRunMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CreateRun",
      requestType = dev.threadline.v1.CreateRunRequest.class,
      responseType = dev.threadline.v1.Run.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.CreateRunRequest,
      dev.threadline.v1.Run> getCreateRunMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.CreateRunRequest, dev.threadline.v1.Run> getCreateRunMethod;
    if ((getCreateRunMethod = RunServiceGrpc.getCreateRunMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getCreateRunMethod = RunServiceGrpc.getCreateRunMethod) == null) {
          RunServiceGrpc.getCreateRunMethod = getCreateRunMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.CreateRunRequest, dev.threadline.v1.Run>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CreateRun"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.CreateRunRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.Run.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("CreateRun"))
              .build();
        }
      }
    }
    return getCreateRunMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.GetRunRequest,
      dev.threadline.v1.Run> getGetRunMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetRun",
      requestType = dev.threadline.v1.GetRunRequest.class,
      responseType = dev.threadline.v1.Run.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.GetRunRequest,
      dev.threadline.v1.Run> getGetRunMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.GetRunRequest, dev.threadline.v1.Run> getGetRunMethod;
    if ((getGetRunMethod = RunServiceGrpc.getGetRunMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getGetRunMethod = RunServiceGrpc.getGetRunMethod) == null) {
          RunServiceGrpc.getGetRunMethod = getGetRunMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.GetRunRequest, dev.threadline.v1.Run>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetRun"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.GetRunRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.Run.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("GetRun"))
              .build();
        }
      }
    }
    return getGetRunMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.ListRunsRequest,
      dev.threadline.v1.ListRunsResponse> getListRunsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListRuns",
      requestType = dev.threadline.v1.ListRunsRequest.class,
      responseType = dev.threadline.v1.ListRunsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.ListRunsRequest,
      dev.threadline.v1.ListRunsResponse> getListRunsMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.ListRunsRequest, dev.threadline.v1.ListRunsResponse> getListRunsMethod;
    if ((getListRunsMethod = RunServiceGrpc.getListRunsMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getListRunsMethod = RunServiceGrpc.getListRunsMethod) == null) {
          RunServiceGrpc.getListRunsMethod = getListRunsMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.ListRunsRequest, dev.threadline.v1.ListRunsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListRuns"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ListRunsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ListRunsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("ListRuns"))
              .build();
        }
      }
    }
    return getListRunsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.CancelRunRequest,
      dev.threadline.v1.Run> getCancelRunMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CancelRun",
      requestType = dev.threadline.v1.CancelRunRequest.class,
      responseType = dev.threadline.v1.Run.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.CancelRunRequest,
      dev.threadline.v1.Run> getCancelRunMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.CancelRunRequest, dev.threadline.v1.Run> getCancelRunMethod;
    if ((getCancelRunMethod = RunServiceGrpc.getCancelRunMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getCancelRunMethod = RunServiceGrpc.getCancelRunMethod) == null) {
          RunServiceGrpc.getCancelRunMethod = getCancelRunMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.CancelRunRequest, dev.threadline.v1.Run>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CancelRun"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.CancelRunRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.Run.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("CancelRun"))
              .build();
        }
      }
    }
    return getCancelRunMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.WaitRunRequest,
      dev.threadline.v1.Run> getWaitRunMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "WaitRun",
      requestType = dev.threadline.v1.WaitRunRequest.class,
      responseType = dev.threadline.v1.Run.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.WaitRunRequest,
      dev.threadline.v1.Run> getWaitRunMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.WaitRunRequest, dev.threadline.v1.Run> getWaitRunMethod;
    if ((getWaitRunMethod = RunServiceGrpc.getWaitRunMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getWaitRunMethod = RunServiceGrpc.getWaitRunMethod) == null) {
          RunServiceGrpc.getWaitRunMethod = getWaitRunMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.WaitRunRequest, dev.threadline.v1.Run>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "WaitRun"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.WaitRunRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.Run.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("WaitRun"))
              .build();
        }
      }
    }
    return getWaitRunMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.StreamRunEventsRequest,
      dev.threadline.v1.RunEvent> getStreamRunEventsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "StreamRunEvents",
      requestType = dev.threadline.v1.StreamRunEventsRequest.class,
      responseType = dev.threadline.v1.RunEvent.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.StreamRunEventsRequest,
      dev.threadline.v1.RunEvent> getStreamRunEventsMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.StreamRunEventsRequest, dev.threadline.v1.RunEvent> getStreamRunEventsMethod;
    if ((getStreamRunEventsMethod = RunServiceGrpc.getStreamRunEventsMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getStreamRunEventsMethod = RunServiceGrpc.getStreamRunEventsMethod) == null) {
          RunServiceGrpc.getStreamRunEventsMethod = getStreamRunEventsMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.StreamRunEventsRequest, dev.threadline.v1.RunEvent>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "StreamRunEvents"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.StreamRunEventsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.RunEvent.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("StreamRunEvents"))
              .build();
        }
      }
    }
    return getStreamRunEventsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.StreamRunEventsRequest,
      dev.threadline.v1.RunEventBatch> getStreamRunEventBatchesMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "StreamRunEventBatches",
      requestType = dev.threadline.v1.StreamRunEventsRequest.class,
      responseType = dev.threadline.v1.RunEventBatch.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.StreamRunEventsRequest,
      dev.threadline.v1.RunEventBatch> getStreamRunEventBatchesMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.StreamRunEventsRequest, dev.threadline.v1.RunEventBatch> getStreamRunEventBatchesMethod;
    if ((getStreamRunEventBatchesMethod = RunServiceGrpc.getStreamRunEventBatchesMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getStreamRunEventBatchesMethod = RunServiceGrpc.getStreamRunEventBatchesMethod) == null) {
          RunServiceGrpc.getStreamRunEventBatchesMethod = getStreamRunEventBatchesMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.StreamRunEventsRequest, dev.threadline.v1.RunEventBatch>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "StreamRunEventBatches"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.StreamRunEventsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.RunEventBatch.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("StreamRunEventBatches"))
              .build();
        }
      }
    }
    return getStreamRunEventBatchesMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.CreateRunRequest,
      dev.threadline.v1.RunEvent> getStreamRunMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "StreamRun",
      requestType = dev.threadline.v1.CreateRunRequest.class,
      responseType = dev.threadline.v1.RunEvent.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.CreateRunRequest,
      dev.threadline.v1.RunEvent> getStreamRunMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.CreateRunRequest, dev.threadline.v1.RunEvent> getStreamRunMethod;
    if ((getStreamRunMethod = RunServiceGrpc.getStreamRunMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getStreamRunMethod = RunServiceGrpc.getStreamRunMethod) == null) {
          RunServiceGrpc.getStreamRunMethod = getStreamRunMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.CreateRunRequest, dev.threadline.v1.RunEvent>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "StreamRun"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.CreateRunRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.RunEvent.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("StreamRun"))
              .build();
        }
      }
    }
    return getStreamRunMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.WatchThreadRequest,
      dev.threadline.v1.RunEvent> getWatchThreadMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "WatchThread",
      requestType = dev.threadline.v1.WatchThreadRequest.class,
      responseType = dev.threadline.v1.RunEvent.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.WatchThreadRequest,
      dev.threadline.v1.RunEvent> getWatchThreadMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.WatchThreadRequest, dev.threadline.v1.RunEvent> getWatchThreadMethod;
    if ((getWatchThreadMethod = RunServiceGrpc.getWatchThreadMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getWatchThreadMethod = RunServiceGrpc.getWatchThreadMethod) == null) {
          RunServiceGrpc.getWatchThreadMethod = getWatchThreadMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.WatchThreadRequest, dev.threadline.v1.RunEvent>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "WatchThread"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.WatchThreadRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.RunEvent.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("WatchThread"))
              .build();
        }
      }
    }
    return getWatchThreadMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.ResumeRunRequest,
      dev.threadline.v1.Run> getResumeRunMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ResumeRun",
      requestType = dev.threadline.v1.ResumeRunRequest.class,
      responseType = dev.threadline.v1.Run.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.ResumeRunRequest,
      dev.threadline.v1.Run> getResumeRunMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.ResumeRunRequest, dev.threadline.v1.Run> getResumeRunMethod;
    if ((getResumeRunMethod = RunServiceGrpc.getResumeRunMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getResumeRunMethod = RunServiceGrpc.getResumeRunMethod) == null) {
          RunServiceGrpc.getResumeRunMethod = getResumeRunMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.ResumeRunRequest, dev.threadline.v1.Run>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ResumeRun"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ResumeRunRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.Run.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("ResumeRun"))
              .build();
        }
      }
    }
    return getResumeRunMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.ChatRequest,
      dev.threadline.v1.ChatResponse> getChatMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Chat",
      requestType = dev.threadline.v1.ChatRequest.class,
      responseType = dev.threadline.v1.ChatResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.ChatRequest,
      dev.threadline.v1.ChatResponse> getChatMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.ChatRequest, dev.threadline.v1.ChatResponse> getChatMethod;
    if ((getChatMethod = RunServiceGrpc.getChatMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getChatMethod = RunServiceGrpc.getChatMethod) == null) {
          RunServiceGrpc.getChatMethod = getChatMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.ChatRequest, dev.threadline.v1.ChatResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Chat"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ChatRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ChatResponse.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("Chat"))
              .build();
        }
      }
    }
    return getChatMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static RunServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<RunServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<RunServiceStub>() {
        @java.lang.Override
        public RunServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new RunServiceStub(channel, callOptions);
        }
      };
    return RunServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static RunServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<RunServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<RunServiceBlockingV2Stub>() {
        @java.lang.Override
        public RunServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new RunServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return RunServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static RunServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<RunServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<RunServiceBlockingStub>() {
        @java.lang.Override
        public RunServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new RunServiceBlockingStub(channel, callOptions);
        }
      };
    return RunServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static RunServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<RunServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<RunServiceFutureStub>() {
        @java.lang.Override
        public RunServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new RunServiceFutureStub(channel, callOptions);
        }
      };
    return RunServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * RunService starts agents on threads and lets clients watch them work.
   * A run is one turn of an agent on a thread: it reads the thread, thinks in
   * iterations, calls tools, writes its answer as messages, and reports what it
   * did. Everything a run does is recorded as RunEvents, written to the store
   * before any client sees them, so a client can lose its stream and resume
   * from the last event id it got with nothing missed and nothing repeated.
   * Every call answers INVALID_ARGUMENT with reason VALIDATION_ERROR and a
   * BadRequest naming each bad field when the request is malformed (reason
   * MALFORMED_REQUEST when its bytes are not a valid message at all), NOT_FOUND
   * with reason THREAD_NOT_FOUND or RUN_NOT_FOUND for an unknown thread or run,
   * and writes nothing when it fails. No reply and no streamed event is larger
   * than 4 MiB, the default most a gRPC client accepts.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Starts a run of an agent on a thread and returns it, QUEUED. Input
     * messages are appended to the thread first, in the same transaction. When
     * the thread already has a run in flight, multitask_strategy decides: REJECT
     * (the default) answers FAILED_PRECONDITION with reason THREAD_BUSY. An
     * unknown agent is NOT_FOUND with reason AGENT_NOT_FOUND. Retrying with the
     * same request_id returns the run the first call started.
     * </pre>
     */
    default void createRun(dev.threadline.v1.CreateRunRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Run> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCreateRunMethod(), responseObserver);
    }

    /**
     * <pre>
     * Returns one run.
     * </pre>
     */
    default void getRun(dev.threadline.v1.GetRunRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Run> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetRunMethod(), responseObserver);
    }

    /**
     * <pre>
     * Lists the runs of a thread, newest first unless order_by says otherwise.
     * A page holds fewer than page_size runs when more would not fit in 4 MiB;
     * next_page_token then continues after the last one.
     * </pre>
     */
    default void listRuns(dev.threadline.v1.ListRunsRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ListRunsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListRunsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Asks a run to stop and returns it. Idempotent: a run that has already
     * ended is returned as it ended. A queued run, or one in REQUIRES_ACTION,
     * is cancelled at once; a running one stops at its next step and ends
     * CANCELLED.
     * </pre>
     */
    default void cancelRun(dev.threadline.v1.CancelRunRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Run> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCancelRunMethod(), responseObserver);
    }

    /**
     * <pre>
     * Waits until the run ends, or pauses in REQUIRES_ACTION, and returns it.
     * When the timeout, or the call's own deadline, comes first, returns the
     * run as it stands just before then.
     * </pre>
     */
    default void waitRun(dev.threadline.v1.WaitRunRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Run> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getWaitRunMethod(), responseObserver);
    }

    /**
     * <pre>
     * Streams a run's events: every stored event after after_event_id, then the
     * live ones as they happen, and ends after the run's final event
     * (run.completed, run.max_iterations_reached, run.failed or run.cancelled).
     * With event_types, only events of those types are sent, and the stream
     * still ends at the run's end (after its final event, or without it when
     * that type was not asked for).
     * </pre>
     */
    default void streamRunEvents(dev.threadline.v1.StreamRunEventsRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.RunEvent> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getStreamRunEventsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Streams a run's events exactly as StreamRunEvents does (the same request,
     * cursor, event_types, end and errors), several events to a message: each
     * RunEventBatch holds, in order, the events that were ready when it was
     * sent (at most 500, and at most 4 MiB less 16 KiB together; an event is
     * never split). A reader that keeps up gets one message per commit instead
     * of one per event, which is what lets one run's events reach thousands of
     * readers. Opt in with this method; StreamRunEvents is unchanged. To
     * resume, pass the event_id of the last event of the last batch received
     * as after_event_id: the next batch starts with the next event, none twice,
     * none missed. Over HTTP each batch is one NDJSON line, or one
     * Server-Sent Event whose id is the batch's last event_id (Last-Event-ID
     * resumes).
     * </pre>
     */
    default void streamRunEventBatches(dev.threadline.v1.StreamRunEventsRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.RunEventBatch> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getStreamRunEventBatchesMethod(), responseObserver);
    }

    /**
     * <pre>
     * Creates a run and streams its events from the first, in one call. The
     * first event is run.created, which names the run. Retrying with the same
     * request_id starts no second run: it streams the first call's run from
     * its first event (request ids of StreamRun and CreateRun are apart).
     * With stream_event_types, only events of those types are sent (leave
     * run.created out and the run is named by every other event's run_id).
     * </pre>
     */
    default void streamRun(dev.threadline.v1.CreateRunRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.RunEvent> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getStreamRunMethod(), responseObserver);
    }

    /**
     * <pre>
     * Streams every event on a thread, of runs, messages and state alike, after
     * after_event_id and then live, until the client leaves; with event_types,
     * only events of those types.
     * </pre>
     */
    default void watchThread(dev.threadline.v1.WatchThreadRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.RunEvent> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getWatchThreadMethod(), responseObserver);
    }

    /**
     * <pre>
     * Continues a run that waits in REQUIRES_ACTION, with what it asked for:
     * the outputs of its client-side tool calls (one ToolResult for each call
     * in required_action.tool_calls, no more), or the answer to its question
     * (valid against the question's answer_schema, when it has one). Returns
     * the run, QUEUED again: it goes on where it paused, in this process or in
     * the worker that claims it next, and run.resumed is its next event. A
     * missing, unknown or invalid output or answer is INVALID_ARGUMENT with
     * reason VALIDATION_ERROR naming the field (`tool_outputs`,
     * `tool_outputs[i].tool_call_id`, `answer`, `answer.&lt;property&gt;`); a run
     * that is not waiting is FAILED_PRECONDITION with reason RUN_NOT_WAITING.
     * Retrying with the same request_id returns the run as it is now, and
     * resumes nothing twice.
     * </pre>
     */
    default void resumeRun(dev.threadline.v1.ResumeRunRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Run> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getResumeRunMethod(), responseObserver);
    }

    /**
     * <pre>
     * Sends one user message to an agent and waits for its answer, for callers
     * who want a single call: makes a thread when thread_id is empty (with the
     * request's ttl, or the server's --default-thread-ttl), runs the agent, and
     * returns what it said and did. Retrying with the same request_id starts
     * nothing new: it waits for the first call's run on the first call's thread
     * and answers from it.
     * </pre>
     */
    default void chat(dev.threadline.v1.ChatRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ChatResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getChatMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service RunService.
   * <pre>
   * RunService starts agents on threads and lets clients watch them work.
   * A run is one turn of an agent on a thread: it reads the thread, thinks in
   * iterations, calls tools, writes its answer as messages, and reports what it
   * did. Everything a run does is recorded as RunEvents, written to the store
   * before any client sees them, so a client can lose its stream and resume
   * from the last event id it got with nothing missed and nothing repeated.
   * Every call answers INVALID_ARGUMENT with reason VALIDATION_ERROR and a
   * BadRequest naming each bad field when the request is malformed (reason
   * MALFORMED_REQUEST when its bytes are not a valid message at all), NOT_FOUND
   * with reason THREAD_NOT_FOUND or RUN_NOT_FOUND for an unknown thread or run,
   * and writes nothing when it fails. No reply and no streamed event is larger
   * than 4 MiB, the default most a gRPC client accepts.
   * </pre>
   */
  public static abstract class RunServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return RunServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service RunService.
   * <pre>
   * RunService starts agents on threads and lets clients watch them work.
   * A run is one turn of an agent on a thread: it reads the thread, thinks in
   * iterations, calls tools, writes its answer as messages, and reports what it
   * did. Everything a run does is recorded as RunEvents, written to the store
   * before any client sees them, so a client can lose its stream and resume
   * from the last event id it got with nothing missed and nothing repeated.
   * Every call answers INVALID_ARGUMENT with reason VALIDATION_ERROR and a
   * BadRequest naming each bad field when the request is malformed (reason
   * MALFORMED_REQUEST when its bytes are not a valid message at all), NOT_FOUND
   * with reason THREAD_NOT_FOUND or RUN_NOT_FOUND for an unknown thread or run,
   * and writes nothing when it fails. No reply and no streamed event is larger
   * than 4 MiB, the default most a gRPC client accepts.
   * </pre>
   */
  public static final class RunServiceStub
      extends io.grpc.stub.AbstractAsyncStub<RunServiceStub> {
    private RunServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected RunServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new RunServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Starts a run of an agent on a thread and returns it, QUEUED. Input
     * messages are appended to the thread first, in the same transaction. When
     * the thread already has a run in flight, multitask_strategy decides: REJECT
     * (the default) answers FAILED_PRECONDITION with reason THREAD_BUSY. An
     * unknown agent is NOT_FOUND with reason AGENT_NOT_FOUND. Retrying with the
     * same request_id returns the run the first call started.
     * </pre>
     */
    public void createRun(dev.threadline.v1.CreateRunRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Run> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCreateRunMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Returns one run.
     * </pre>
     */
    public void getRun(dev.threadline.v1.GetRunRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Run> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetRunMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Lists the runs of a thread, newest first unless order_by says otherwise.
     * A page holds fewer than page_size runs when more would not fit in 4 MiB;
     * next_page_token then continues after the last one.
     * </pre>
     */
    public void listRuns(dev.threadline.v1.ListRunsRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ListRunsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListRunsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Asks a run to stop and returns it. Idempotent: a run that has already
     * ended is returned as it ended. A queued run, or one in REQUIRES_ACTION,
     * is cancelled at once; a running one stops at its next step and ends
     * CANCELLED.
     * </pre>
     */
    public void cancelRun(dev.threadline.v1.CancelRunRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Run> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCancelRunMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Waits until the run ends, or pauses in REQUIRES_ACTION, and returns it.
     * When the timeout, or the call's own deadline, comes first, returns the
     * run as it stands just before then.
     * </pre>
     */
    public void waitRun(dev.threadline.v1.WaitRunRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Run> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getWaitRunMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Streams a run's events: every stored event after after_event_id, then the
     * live ones as they happen, and ends after the run's final event
     * (run.completed, run.max_iterations_reached, run.failed or run.cancelled).
     * With event_types, only events of those types are sent, and the stream
     * still ends at the run's end (after its final event, or without it when
     * that type was not asked for).
     * </pre>
     */
    public void streamRunEvents(dev.threadline.v1.StreamRunEventsRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.RunEvent> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getStreamRunEventsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Streams a run's events exactly as StreamRunEvents does (the same request,
     * cursor, event_types, end and errors), several events to a message: each
     * RunEventBatch holds, in order, the events that were ready when it was
     * sent (at most 500, and at most 4 MiB less 16 KiB together; an event is
     * never split). A reader that keeps up gets one message per commit instead
     * of one per event, which is what lets one run's events reach thousands of
     * readers. Opt in with this method; StreamRunEvents is unchanged. To
     * resume, pass the event_id of the last event of the last batch received
     * as after_event_id: the next batch starts with the next event, none twice,
     * none missed. Over HTTP each batch is one NDJSON line, or one
     * Server-Sent Event whose id is the batch's last event_id (Last-Event-ID
     * resumes).
     * </pre>
     */
    public void streamRunEventBatches(dev.threadline.v1.StreamRunEventsRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.RunEventBatch> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getStreamRunEventBatchesMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Creates a run and streams its events from the first, in one call. The
     * first event is run.created, which names the run. Retrying with the same
     * request_id starts no second run: it streams the first call's run from
     * its first event (request ids of StreamRun and CreateRun are apart).
     * With stream_event_types, only events of those types are sent (leave
     * run.created out and the run is named by every other event's run_id).
     * </pre>
     */
    public void streamRun(dev.threadline.v1.CreateRunRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.RunEvent> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getStreamRunMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Streams every event on a thread, of runs, messages and state alike, after
     * after_event_id and then live, until the client leaves; with event_types,
     * only events of those types.
     * </pre>
     */
    public void watchThread(dev.threadline.v1.WatchThreadRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.RunEvent> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getWatchThreadMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Continues a run that waits in REQUIRES_ACTION, with what it asked for:
     * the outputs of its client-side tool calls (one ToolResult for each call
     * in required_action.tool_calls, no more), or the answer to its question
     * (valid against the question's answer_schema, when it has one). Returns
     * the run, QUEUED again: it goes on where it paused, in this process or in
     * the worker that claims it next, and run.resumed is its next event. A
     * missing, unknown or invalid output or answer is INVALID_ARGUMENT with
     * reason VALIDATION_ERROR naming the field (`tool_outputs`,
     * `tool_outputs[i].tool_call_id`, `answer`, `answer.&lt;property&gt;`); a run
     * that is not waiting is FAILED_PRECONDITION with reason RUN_NOT_WAITING.
     * Retrying with the same request_id returns the run as it is now, and
     * resumes nothing twice.
     * </pre>
     */
    public void resumeRun(dev.threadline.v1.ResumeRunRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Run> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getResumeRunMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Sends one user message to an agent and waits for its answer, for callers
     * who want a single call: makes a thread when thread_id is empty (with the
     * request's ttl, or the server's --default-thread-ttl), runs the agent, and
     * returns what it said and did. Retrying with the same request_id starts
     * nothing new: it waits for the first call's run on the first call's thread
     * and answers from it.
     * </pre>
     */
    public void chat(dev.threadline.v1.ChatRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ChatResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getChatMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service RunService.
   * <pre>
   * RunService starts agents on threads and lets clients watch them work.
   * A run is one turn of an agent on a thread: it reads the thread, thinks in
   * iterations, calls tools, writes its answer as messages, and reports what it
   * did. Everything a run does is recorded as RunEvents, written to the store
   * before any client sees them, so a client can lose its stream and resume
   * from the last event id it got with nothing missed and nothing repeated.
   * Every call answers INVALID_ARGUMENT with reason VALIDATION_ERROR and a
   * BadRequest naming each bad field when the request is malformed (reason
   * MALFORMED_REQUEST when its bytes are not a valid message at all), NOT_FOUND
   * with reason THREAD_NOT_FOUND or RUN_NOT_FOUND for an unknown thread or run,
   * and writes nothing when it fails. No reply and no streamed event is larger
   * than 4 MiB, the default most a gRPC client accepts.
   * </pre>
   */
  public static final class RunServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<RunServiceBlockingV2Stub> {
    private RunServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected RunServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new RunServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Starts a run of an agent on a thread and returns it, QUEUED. Input
     * messages are appended to the thread first, in the same transaction. When
     * the thread already has a run in flight, multitask_strategy decides: REJECT
     * (the default) answers FAILED_PRECONDITION with reason THREAD_BUSY. An
     * unknown agent is NOT_FOUND with reason AGENT_NOT_FOUND. Retrying with the
     * same request_id returns the run the first call started.
     * </pre>
     */
    public dev.threadline.v1.Run createRun(dev.threadline.v1.CreateRunRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCreateRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns one run.
     * </pre>
     */
    public dev.threadline.v1.Run getRun(dev.threadline.v1.GetRunRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists the runs of a thread, newest first unless order_by says otherwise.
     * A page holds fewer than page_size runs when more would not fit in 4 MiB;
     * next_page_token then continues after the last one.
     * </pre>
     */
    public dev.threadline.v1.ListRunsResponse listRuns(dev.threadline.v1.ListRunsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListRunsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Asks a run to stop and returns it. Idempotent: a run that has already
     * ended is returned as it ended. A queued run, or one in REQUIRES_ACTION,
     * is cancelled at once; a running one stops at its next step and ends
     * CANCELLED.
     * </pre>
     */
    public dev.threadline.v1.Run cancelRun(dev.threadline.v1.CancelRunRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCancelRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Waits until the run ends, or pauses in REQUIRES_ACTION, and returns it.
     * When the timeout, or the call's own deadline, comes first, returns the
     * run as it stands just before then.
     * </pre>
     */
    public dev.threadline.v1.Run waitRun(dev.threadline.v1.WaitRunRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getWaitRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Streams a run's events: every stored event after after_event_id, then the
     * live ones as they happen, and ends after the run's final event
     * (run.completed, run.max_iterations_reached, run.failed or run.cancelled).
     * With event_types, only events of those types are sent, and the stream
     * still ends at the run's end (after its final event, or without it when
     * that type was not asked for).
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<?, dev.threadline.v1.RunEvent>
        streamRunEvents(dev.threadline.v1.StreamRunEventsRequest request) {
      return io.grpc.stub.ClientCalls.blockingV2ServerStreamingCall(
          getChannel(), getStreamRunEventsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Streams a run's events exactly as StreamRunEvents does (the same request,
     * cursor, event_types, end and errors), several events to a message: each
     * RunEventBatch holds, in order, the events that were ready when it was
     * sent (at most 500, and at most 4 MiB less 16 KiB together; an event is
     * never split). A reader that keeps up gets one message per commit instead
     * of one per event, which is what lets one run's events reach thousands of
     * readers. Opt in with this method; StreamRunEvents is unchanged. To
     * resume, pass the event_id of the last event of the last batch received
     * as after_event_id: the next batch starts with the next event, none twice,
     * none missed. Over HTTP each batch is one NDJSON line, or one
     * Server-Sent Event whose id is the batch's last event_id (Last-Event-ID
     * resumes).
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<?, dev.threadline.v1.RunEventBatch>
        streamRunEventBatches(dev.threadline.v1.StreamRunEventsRequest request) {
      return io.grpc.stub.ClientCalls.blockingV2ServerStreamingCall(
          getChannel(), getStreamRunEventBatchesMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Creates a run and streams its events from the first, in one call. The
     * first event is run.created, which names the run. Retrying with the same
     * request_id starts no second run: it streams the first call's run from
     * its first event (request ids of StreamRun and CreateRun are apart).
     * With stream_event_types, only events of those types are sent (leave
     * run.created out and the run is named by every other event's run_id).
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<?, dev.threadline.v1.RunEvent>
        streamRun(dev.threadline.v1.CreateRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingV2ServerStreamingCall(
          getChannel(), getStreamRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Streams every event on a thread, of runs, messages and state alike, after
     * after_event_id and then live, until the client leaves; with event_types,
     * only events of those types.
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<?, dev.threadline.v1.RunEvent>
        watchThread(dev.threadline.v1.WatchThreadRequest request) {
      return io.grpc.stub.ClientCalls.blockingV2ServerStreamingCall(
          getChannel(), getWatchThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Continues a run that waits in REQUIRES_ACTION, with what it asked for:
     * the outputs of its client-side tool calls (one ToolResult for each call
     * in required_action.tool_calls, no more), or the answer to its question
     * (valid against the question's answer_schema, when it has one). Returns
     * the run, QUEUED again: it goes on where it paused, in this process or in
     * the worker that claims it next, and run.resumed is its next event. A
     * missing, unknown or invalid output or answer is INVALID_ARGUMENT with
     * reason VALIDATION_ERROR naming the field (`tool_outputs`,
     * `tool_outputs[i].tool_call_id`, `answer`, `answer.&lt;property&gt;`); a run
     * that is not waiting is FAILED_PRECONDITION with reason RUN_NOT_WAITING.
     * Retrying with the same request_id returns the run as it is now, and
     * resumes nothing twice.
     * </pre>
     */
    public dev.threadline.v1.Run resumeRun(dev.threadline.v1.ResumeRunRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getResumeRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Sends one user message to an agent and waits for its answer, for callers
     * who want a single call: makes a thread when thread_id is empty (with the
     * request's ttl, or the server's --default-thread-ttl), runs the agent, and
     * returns what it said and did. Retrying with the same request_id starts
     * nothing new: it waits for the first call's run on the first call's thread
     * and answers from it.
     * </pre>
     */
    public dev.threadline.v1.ChatResponse chat(dev.threadline.v1.ChatRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getChatMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service RunService.
   * <pre>
   * RunService starts agents on threads and lets clients watch them work.
   * A run is one turn of an agent on a thread: it reads the thread, thinks in
   * iterations, calls tools, writes its answer as messages, and reports what it
   * did. Everything a run does is recorded as RunEvents, written to the store
   * before any client sees them, so a client can lose its stream and resume
   * from the last event id it got with nothing missed and nothing repeated.
   * Every call answers INVALID_ARGUMENT with reason VALIDATION_ERROR and a
   * BadRequest naming each bad field when the request is malformed (reason
   * MALFORMED_REQUEST when its bytes are not a valid message at all), NOT_FOUND
   * with reason THREAD_NOT_FOUND or RUN_NOT_FOUND for an unknown thread or run,
   * and writes nothing when it fails. No reply and no streamed event is larger
   * than 4 MiB, the default most a gRPC client accepts.
   * </pre>
   */
  public static final class RunServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<RunServiceBlockingStub> {
    private RunServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected RunServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new RunServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Starts a run of an agent on a thread and returns it, QUEUED. Input
     * messages are appended to the thread first, in the same transaction. When
     * the thread already has a run in flight, multitask_strategy decides: REJECT
     * (the default) answers FAILED_PRECONDITION with reason THREAD_BUSY. An
     * unknown agent is NOT_FOUND with reason AGENT_NOT_FOUND. Retrying with the
     * same request_id returns the run the first call started.
     * </pre>
     */
    public dev.threadline.v1.Run createRun(dev.threadline.v1.CreateRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCreateRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns one run.
     * </pre>
     */
    public dev.threadline.v1.Run getRun(dev.threadline.v1.GetRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists the runs of a thread, newest first unless order_by says otherwise.
     * A page holds fewer than page_size runs when more would not fit in 4 MiB;
     * next_page_token then continues after the last one.
     * </pre>
     */
    public dev.threadline.v1.ListRunsResponse listRuns(dev.threadline.v1.ListRunsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListRunsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Asks a run to stop and returns it. Idempotent: a run that has already
     * ended is returned as it ended. A queued run, or one in REQUIRES_ACTION,
     * is cancelled at once; a running one stops at its next step and ends
     * CANCELLED.
     * </pre>
     */
    public dev.threadline.v1.Run cancelRun(dev.threadline.v1.CancelRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCancelRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Waits until the run ends, or pauses in REQUIRES_ACTION, and returns it.
     * When the timeout, or the call's own deadline, comes first, returns the
     * run as it stands just before then.
     * </pre>
     */
    public dev.threadline.v1.Run waitRun(dev.threadline.v1.WaitRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getWaitRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Streams a run's events: every stored event after after_event_id, then the
     * live ones as they happen, and ends after the run's final event
     * (run.completed, run.max_iterations_reached, run.failed or run.cancelled).
     * With event_types, only events of those types are sent, and the stream
     * still ends at the run's end (after its final event, or without it when
     * that type was not asked for).
     * </pre>
     */
    public java.util.Iterator<dev.threadline.v1.RunEvent> streamRunEvents(
        dev.threadline.v1.StreamRunEventsRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getStreamRunEventsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Streams a run's events exactly as StreamRunEvents does (the same request,
     * cursor, event_types, end and errors), several events to a message: each
     * RunEventBatch holds, in order, the events that were ready when it was
     * sent (at most 500, and at most 4 MiB less 16 KiB together; an event is
     * never split). A reader that keeps up gets one message per commit instead
     * of one per event, which is what lets one run's events reach thousands of
     * readers. Opt in with this method; StreamRunEvents is unchanged. To
     * resume, pass the event_id of the last event of the last batch received
     * as after_event_id: the next batch starts with the next event, none twice,
     * none missed. Over HTTP each batch is one NDJSON line, or one
     * Server-Sent Event whose id is the batch's last event_id (Last-Event-ID
     * resumes).
     * </pre>
     */
    public java.util.Iterator<dev.threadline.v1.RunEventBatch> streamRunEventBatches(
        dev.threadline.v1.StreamRunEventsRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getStreamRunEventBatchesMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Creates a run and streams its events from the first, in one call. The
     * first event is run.created, which names the run. Retrying with the same
     * request_id starts no second run: it streams the first call's run from
     * its first event (request ids of StreamRun and CreateRun are apart).
     * With stream_event_types, only events of those types are sent (leave
     * run.created out and the run is named by every other event's run_id).
     * </pre>
     */
    public java.util.Iterator<dev.threadline.v1.RunEvent> streamRun(
        dev.threadline.v1.CreateRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getStreamRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Streams every event on a thread, of runs, messages and state alike, after
     * after_event_id and then live, until the client leaves; with event_types,
     * only events of those types.
     * </pre>
     */
    public java.util.Iterator<dev.threadline.v1.RunEvent> watchThread(
        dev.threadline.v1.WatchThreadRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getWatchThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Continues a run that waits in REQUIRES_ACTION, with what it asked for:
     * the outputs of its client-side tool calls (one ToolResult for each call
     * in required_action.tool_calls, no more), or the answer to its question
     * (valid against the question's answer_schema, when it has one). Returns
     * the run, QUEUED again: it goes on where it paused, in this process or in
     * the worker that claims it next, and run.resumed is its next event. A
     * missing, unknown or invalid output or answer is INVALID_ARGUMENT with
     * reason VALIDATION_ERROR naming the field (`tool_outputs`,
     * `tool_outputs[i].tool_call_id`, `answer`, `answer.&lt;property&gt;`); a run
     * that is not waiting is FAILED_PRECONDITION with reason RUN_NOT_WAITING.
     * Retrying with the same request_id returns the run as it is now, and
     * resumes nothing twice.
     * </pre>
     */
    public dev.threadline.v1.Run resumeRun(dev.threadline.v1.ResumeRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getResumeRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Sends one user message to an agent and waits for its answer, for callers
     * who want a single call: makes a thread when thread_id is empty (with the
     * request's ttl, or the server's --default-thread-ttl), runs the agent, and
     * returns what it said and did. Retrying with the same request_id starts
     * nothing new: it waits for the first call's run on the first call's thread
     * and answers from it.
     * </pre>
     */
    public dev.threadline.v1.ChatResponse chat(dev.threadline.v1.ChatRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getChatMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service RunService.
   * <pre>
   * RunService starts agents on threads and lets clients watch them work.
   * A run is one turn of an agent on a thread: it reads the thread, thinks in
   * iterations, calls tools, writes its answer as messages, and reports what it
   * did. Everything a run does is recorded as RunEvents, written to the store
   * before any client sees them, so a client can lose its stream and resume
   * from the last event id it got with nothing missed and nothing repeated.
   * Every call answers INVALID_ARGUMENT with reason VALIDATION_ERROR and a
   * BadRequest naming each bad field when the request is malformed (reason
   * MALFORMED_REQUEST when its bytes are not a valid message at all), NOT_FOUND
   * with reason THREAD_NOT_FOUND or RUN_NOT_FOUND for an unknown thread or run,
   * and writes nothing when it fails. No reply and no streamed event is larger
   * than 4 MiB, the default most a gRPC client accepts.
   * </pre>
   */
  public static final class RunServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<RunServiceFutureStub> {
    private RunServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected RunServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new RunServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Starts a run of an agent on a thread and returns it, QUEUED. Input
     * messages are appended to the thread first, in the same transaction. When
     * the thread already has a run in flight, multitask_strategy decides: REJECT
     * (the default) answers FAILED_PRECONDITION with reason THREAD_BUSY. An
     * unknown agent is NOT_FOUND with reason AGENT_NOT_FOUND. Retrying with the
     * same request_id returns the run the first call started.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.Run> createRun(
        dev.threadline.v1.CreateRunRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCreateRunMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Returns one run.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.Run> getRun(
        dev.threadline.v1.GetRunRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetRunMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Lists the runs of a thread, newest first unless order_by says otherwise.
     * A page holds fewer than page_size runs when more would not fit in 4 MiB;
     * next_page_token then continues after the last one.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.ListRunsResponse> listRuns(
        dev.threadline.v1.ListRunsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListRunsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Asks a run to stop and returns it. Idempotent: a run that has already
     * ended is returned as it ended. A queued run, or one in REQUIRES_ACTION,
     * is cancelled at once; a running one stops at its next step and ends
     * CANCELLED.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.Run> cancelRun(
        dev.threadline.v1.CancelRunRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCancelRunMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Waits until the run ends, or pauses in REQUIRES_ACTION, and returns it.
     * When the timeout, or the call's own deadline, comes first, returns the
     * run as it stands just before then.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.Run> waitRun(
        dev.threadline.v1.WaitRunRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getWaitRunMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Continues a run that waits in REQUIRES_ACTION, with what it asked for:
     * the outputs of its client-side tool calls (one ToolResult for each call
     * in required_action.tool_calls, no more), or the answer to its question
     * (valid against the question's answer_schema, when it has one). Returns
     * the run, QUEUED again: it goes on where it paused, in this process or in
     * the worker that claims it next, and run.resumed is its next event. A
     * missing, unknown or invalid output or answer is INVALID_ARGUMENT with
     * reason VALIDATION_ERROR naming the field (`tool_outputs`,
     * `tool_outputs[i].tool_call_id`, `answer`, `answer.&lt;property&gt;`); a run
     * that is not waiting is FAILED_PRECONDITION with reason RUN_NOT_WAITING.
     * Retrying with the same request_id returns the run as it is now, and
     * resumes nothing twice.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.Run> resumeRun(
        dev.threadline.v1.ResumeRunRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getResumeRunMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Sends one user message to an agent and waits for its answer, for callers
     * who want a single call: makes a thread when thread_id is empty (with the
     * request's ttl, or the server's --default-thread-ttl), runs the agent, and
     * returns what it said and did. Retrying with the same request_id starts
     * nothing new: it waits for the first call's run on the first call's thread
     * and answers from it.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.ChatResponse> chat(
        dev.threadline.v1.ChatRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getChatMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_CREATE_RUN = 0;
  private static final int METHODID_GET_RUN = 1;
  private static final int METHODID_LIST_RUNS = 2;
  private static final int METHODID_CANCEL_RUN = 3;
  private static final int METHODID_WAIT_RUN = 4;
  private static final int METHODID_STREAM_RUN_EVENTS = 5;
  private static final int METHODID_STREAM_RUN_EVENT_BATCHES = 6;
  private static final int METHODID_STREAM_RUN = 7;
  private static final int METHODID_WATCH_THREAD = 8;
  private static final int METHODID_RESUME_RUN = 9;
  private static final int METHODID_CHAT = 10;

  private static final class MethodHandlers<Req, Resp> implements
      io.grpc.stub.ServerCalls.UnaryMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ServerStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ClientStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.BidiStreamingMethod<Req, Resp> {
    private final AsyncService serviceImpl;
    private final int methodId;

    MethodHandlers(AsyncService serviceImpl, int methodId) {
      this.serviceImpl = serviceImpl;
      this.methodId = methodId;
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public void invoke(Req request, io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_CREATE_RUN:
          serviceImpl.createRun((dev.threadline.v1.CreateRunRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.Run>) responseObserver);
          break;
        case METHODID_GET_RUN:
          serviceImpl.getRun((dev.threadline.v1.GetRunRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.Run>) responseObserver);
          break;
        case METHODID_LIST_RUNS:
          serviceImpl.listRuns((dev.threadline.v1.ListRunsRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.ListRunsResponse>) responseObserver);
          break;
        case METHODID_CANCEL_RUN:
          serviceImpl.cancelRun((dev.threadline.v1.CancelRunRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.Run>) responseObserver);
          break;
        case METHODID_WAIT_RUN:
          serviceImpl.waitRun((dev.threadline.v1.WaitRunRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.Run>) responseObserver);
          break;
        case METHODID_STREAM_RUN_EVENTS:
          serviceImpl.streamRunEvents((dev.threadline.v1.StreamRunEventsRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.RunEvent>) responseObserver);
          break;
        case METHODID_STREAM_RUN_EVENT_BATCHES:
          serviceImpl.streamRunEventBatches((dev.threadline.v1.StreamRunEventsRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.RunEventBatch>) responseObserver);
          break;
        case METHODID_STREAM_RUN:
          serviceImpl.streamRun((dev.threadline.v1.CreateRunRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.RunEvent>) responseObserver);
          break;
        case METHODID_WATCH_THREAD:
          serviceImpl.watchThread((dev.threadline.v1.WatchThreadRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.RunEvent>) responseObserver);
          break;
        case METHODID_RESUME_RUN:
          serviceImpl.resumeRun((dev.threadline.v1.ResumeRunRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.Run>) responseObserver);
          break;
        case METHODID_CHAT:
          serviceImpl.chat((dev.threadline.v1.ChatRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.ChatResponse>) responseObserver);
          break;
        default:
          throw new AssertionError();
      }
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public io.grpc.stub.StreamObserver<Req> invoke(
        io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        default:
          throw new AssertionError();
      }
    }
  }

  public static final io.grpc.ServerServiceDefinition bindService(AsyncService service) {
    return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
        .addMethod(
          getCreateRunMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.CreateRunRequest,
              dev.threadline.v1.Run>(
                service, METHODID_CREATE_RUN)))
        .addMethod(
          getGetRunMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.GetRunRequest,
              dev.threadline.v1.Run>(
                service, METHODID_GET_RUN)))
        .addMethod(
          getListRunsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.ListRunsRequest,
              dev.threadline.v1.ListRunsResponse>(
                service, METHODID_LIST_RUNS)))
        .addMethod(
          getCancelRunMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.CancelRunRequest,
              dev.threadline.v1.Run>(
                service, METHODID_CANCEL_RUN)))
        .addMethod(
          getWaitRunMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.WaitRunRequest,
              dev.threadline.v1.Run>(
                service, METHODID_WAIT_RUN)))
        .addMethod(
          getStreamRunEventsMethod(),
          io.grpc.stub.ServerCalls.asyncServerStreamingCall(
            new MethodHandlers<
              dev.threadline.v1.StreamRunEventsRequest,
              dev.threadline.v1.RunEvent>(
                service, METHODID_STREAM_RUN_EVENTS)))
        .addMethod(
          getStreamRunEventBatchesMethod(),
          io.grpc.stub.ServerCalls.asyncServerStreamingCall(
            new MethodHandlers<
              dev.threadline.v1.StreamRunEventsRequest,
              dev.threadline.v1.RunEventBatch>(
                service, METHODID_STREAM_RUN_EVENT_BATCHES)))
        .addMethod(
          getStreamRunMethod(),
          io.grpc.stub.ServerCalls.asyncServerStreamingCall(
            new MethodHandlers<
              dev.threadline.v1.CreateRunRequest,
              dev.threadline.v1.RunEvent>(
                service, METHODID_STREAM_RUN)))
        .addMethod(
          getWatchThreadMethod(),
          io.grpc.stub.ServerCalls.asyncServerStreamingCall(
            new MethodHandlers<
              dev.threadline.v1.WatchThreadRequest,
              dev.threadline.v1.RunEvent>(
                service, METHODID_WATCH_THREAD)))
        .addMethod(
          getResumeRunMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.ResumeRunRequest,
              dev.threadline.v1.Run>(
                service, METHODID_RESUME_RUN)))
        .addMethod(
          getChatMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.ChatRequest,
              dev.threadline.v1.ChatResponse>(
                service, METHODID_CHAT)))
        .build();
  }

  private static abstract class RunServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    RunServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.threadline.v1.RunProto.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("RunService");
    }
  }

  private static final class RunServiceFileDescriptorSupplier
      extends RunServiceBaseDescriptorSupplier {
    RunServiceFileDescriptorSupplier() {}
  }

  private static final class RunServiceMethodDescriptorSupplier
      extends RunServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    RunServiceMethodDescriptorSupplier(java.lang.String methodName) {
      this.methodName = methodName;
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.MethodDescriptor getMethodDescriptor() {
      return getServiceDescriptor().findMethodByName(methodName);
    }
  }

  private static volatile io.grpc.ServiceDescriptor serviceDescriptor;

  public static io.grpc.ServiceDescriptor getServiceDescriptor() {
    io.grpc.ServiceDescriptor result = serviceDescriptor;
    if (result == null) {
      synchronized (RunServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new RunServiceFileDescriptorSupplier())
              .addMethod(getCreateRunMethod())
              .addMethod(getGetRunMethod())
              .addMethod(getListRunsMethod())
              .addMethod(getCancelRunMethod())
              .addMethod(getWaitRunMethod())
              .addMethod(getStreamRunEventsMethod())
              .addMethod(getStreamRunEventBatchesMethod())
              .addMethod(getStreamRunMethod())
              .addMethod(getWatchThreadMethod())
              .addMethod(getResumeRunMethod())
              .addMethod(getChatMethod())
              .build();
        }
      }
    }
    return result;
  }
}
