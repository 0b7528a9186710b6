package dev.threadline.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * ThreadService keeps conversation threads. Every call answers
 * INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest naming each
 * bad field when the request is malformed (reason MALFORMED_REQUEST when its
 * bytes are not a valid message at all), and NOT_FOUND with reason
 * THREAD_NOT_FOUND when it names a thread that does not exist or has
 * expired. A rejected call writes nothing. No reply is larger than 4 MiB,
 * the default most a gRPC client accepts.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class ThreadServiceGrpc {

  private ThreadServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "threadline.v1.ThreadService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.CreateThreadRequest,
      dev.threadline.v1.Thread> getCreateThreadMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CreateThread",
      requestType = dev.threadline.v1.CreateThreadRequest.class,
      responseType = dev.threadline.v1.Thread.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.CreateThreadRequest,
      dev.threadline.v1.Thread> getCreateThreadMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.CreateThreadRequest, dev.threadline.v1.Thread> getCreateThreadMethod;
    if ((getCreateThreadMethod = ThreadServiceGrpc.getCreateThreadMethod) == null) {
      synchronized (ThreadServiceGrpc.class) {
        if ((getCreateThreadMethod = ThreadServiceGrpc.getCreateThreadMethod) == null) {
          ThreadServiceGrpc.getCreateThreadMethod = getCreateThreadMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.CreateThreadRequest, dev.threadline.v1.Thread>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CreateThread"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.CreateThreadRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.Thread.getDefaultInstance()))
              .setSchemaDescriptor(new ThreadServiceMethodDescriptorSupplier("CreateThread"))
              .build();
        }
      }
    }
    return getCreateThreadMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.GetThreadRequest,
      dev.threadline.v1.Thread> getGetThreadMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetThread",
      requestType = dev.threadline.v1.GetThreadRequest.class,
      responseType = dev.threadline.v1.Thread.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.GetThreadRequest,
      dev.threadline.v1.Thread> getGetThreadMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.GetThreadRequest, dev.threadline.v1.Thread> getGetThreadMethod;
    if ((getGetThreadMethod = ThreadServiceGrpc.getGetThreadMethod) == null) {
      synchronized (ThreadServiceGrpc.class) {
        if ((getGetThreadMethod = ThreadServiceGrpc.getGetThreadMethod) == null) {
          ThreadServiceGrpc.getGetThreadMethod = getGetThreadMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.GetThreadRequest, dev.threadline.v1.Thread>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetThread"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.GetThreadRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.Thread.getDefaultInstance()))
              .setSchemaDescriptor(new ThreadServiceMethodDescriptorSupplier("GetThread"))
              .build();
        }
      }
    }
    return getGetThreadMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.ListThreadsRequest,
      dev.threadline.v1.ListThreadsResponse> getListThreadsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListThreads",
      requestType = dev.threadline.v1.ListThreadsRequest.class,
      responseType = dev.threadline.v1.ListThreadsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.ListThreadsRequest,
      dev.threadline.v1.ListThreadsResponse> getListThreadsMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.ListThreadsRequest, dev.threadline.v1.ListThreadsResponse> getListThreadsMethod;
    if ((getListThreadsMethod = ThreadServiceGrpc.getListThreadsMethod) == null) {
      synchronized (ThreadServiceGrpc.class) {
        if ((getListThreadsMethod = ThreadServiceGrpc.getListThreadsMethod) == null) {
          ThreadServiceGrpc.getListThreadsMethod = getListThreadsMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.ListThreadsRequest, dev.threadline.v1.ListThreadsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListThreads"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ListThreadsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ListThreadsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ThreadServiceMethodDescriptorSupplier("ListThreads"))
              .build();
        }
      }
    }
    return getListThreadsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.CountThreadsRequest,
      dev.threadline.v1.CountThreadsResponse> getCountThreadsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CountThreads",
      requestType = dev.threadline.v1.CountThreadsRequest.class,
      responseType = dev.threadline.v1.CountThreadsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.CountThreadsRequest,
      dev.threadline.v1.CountThreadsResponse> getCountThreadsMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.CountThreadsRequest, dev.threadline.v1.CountThreadsResponse> getCountThreadsMethod;
    if ((getCountThreadsMethod = ThreadServiceGrpc.getCountThreadsMethod) == null) {
      synchronized (ThreadServiceGrpc.class) {
        if ((getCountThreadsMethod = ThreadServiceGrpc.getCountThreadsMethod) == null) {
          ThreadServiceGrpc.getCountThreadsMethod = getCountThreadsMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.CountThreadsRequest, dev.threadline.v1.CountThreadsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CountThreads"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.CountThreadsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.CountThreadsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ThreadServiceMethodDescriptorSupplier("CountThreads"))
              .build();
        }
      }
    }
    return getCountThreadsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.UpdateThreadRequest,
      dev.threadline.v1.Thread> getUpdateThreadMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "UpdateThread",
      requestType = dev.threadline.v1.UpdateThreadRequest.class,
      responseType = dev.threadline.v1.Thread.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.UpdateThreadRequest,
      dev.threadline.v1.Thread> getUpdateThreadMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.UpdateThreadRequest, dev.threadline.v1.Thread> getUpdateThreadMethod;
    if ((getUpdateThreadMethod = ThreadServiceGrpc.getUpdateThreadMethod) == null) {
      synchronized (ThreadServiceGrpc.class) {
        if ((getUpdateThreadMethod = ThreadServiceGrpc.getUpdateThreadMethod) == null) {
          ThreadServiceGrpc.getUpdateThreadMethod = getUpdateThreadMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.UpdateThreadRequest, dev.threadline.v1.Thread>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "UpdateThread"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.UpdateThreadRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.Thread.getDefaultInstance()))
              .setSchemaDescriptor(new ThreadServiceMethodDescriptorSupplier("UpdateThread"))
              .build();
        }
      }
    }
    return getUpdateThreadMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.DeleteThreadRequest,
      com.google.protobuf.Empty> getDeleteThreadMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "DeleteThread",
      requestType = dev.threadline.v1.DeleteThreadRequest.class,
      responseType = com.google.protobuf.Empty.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.DeleteThreadRequest,
      com.google.protobuf.Empty> getDeleteThreadMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.DeleteThreadRequest, com.google.protobuf.Empty> getDeleteThreadMethod;
    if ((getDeleteThreadMethod = ThreadServiceGrpc.getDeleteThreadMethod) == null) {
      synchronized (ThreadServiceGrpc.class) {
        if ((getDeleteThreadMethod = ThreadServiceGrpc.getDeleteThreadMethod) == null) {
          ThreadServiceGrpc.getDeleteThreadMethod = getDeleteThreadMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.DeleteThreadRequest, com.google.protobuf.Empty>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "DeleteThread"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.DeleteThreadRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  com.google.protobuf.Empty.getDefaultInstance()))
              .setSchemaDescriptor(new ThreadServiceMethodDescriptorSupplier("DeleteThread"))
              .build();
        }
      }
    }
    return getDeleteThreadMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.CopyThreadRequest,
      dev.threadline.v1.Thread> getCopyThreadMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CopyThread",
      requestType = dev.threadline.v1.CopyThreadRequest.class,
      responseType = dev.threadline.v1.Thread.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.CopyThreadRequest,
      dev.threadline.v1.Thread> getCopyThreadMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.CopyThreadRequest, dev.threadline.v1.Thread> getCopyThreadMethod;
    if ((getCopyThreadMethod = ThreadServiceGrpc.getCopyThreadMethod) == null) {
      synchronized (ThreadServiceGrpc.class) {
        if ((getCopyThreadMethod = ThreadServiceGrpc.getCopyThreadMethod) == null) {
          ThreadServiceGrpc.getCopyThreadMethod = getCopyThreadMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.CopyThreadRequest, dev.threadline.v1.Thread>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CopyThread"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.CopyThreadRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.Thread.getDefaultInstance()))
              .setSchemaDescriptor(new ThreadServiceMethodDescriptorSupplier("CopyThread"))
              .build();
        }
      }
    }
    return getCopyThreadMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static ThreadServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<ThreadServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<ThreadServiceStub>() {
        @java.lang.Override
        public ThreadServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new ThreadServiceStub(channel, callOptions);
        }
      };
    return ThreadServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static ThreadServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<ThreadServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<ThreadServiceBlockingV2Stub>() {
        @java.lang.Override
        public ThreadServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new ThreadServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return ThreadServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static ThreadServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<ThreadServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<ThreadServiceBlockingStub>() {
        @java.lang.Override
        public ThreadServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new ThreadServiceBlockingStub(channel, callOptions);
        }
      };
    return ThreadServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static ThreadServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<ThreadServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<ThreadServiceFutureStub>() {
        @java.lang.Override
        public ThreadServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new ThreadServiceFutureStub(channel, callOptions);
        }
      };
    return ThreadServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * ThreadService keeps conversation threads. Every call answers
   * INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest naming each
   * bad field when the request is malformed (reason MALFORMED_REQUEST when its
   * bytes are not a valid message at all), and NOT_FOUND with reason
   * THREAD_NOT_FOUND when it names a thread that does not exist or has
   * expired. A rejected call writes nothing. No reply is larger than 4 MiB,
   * the default most a gRPC client accepts.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Creates a thread. With a thread_id chosen by the client that is already
     * taken, answers ALREADY_EXISTS (reason THREAD_ALREADY_EXISTS) or, with
     * if_exists DO_NOTHING, returns the existing thread unchanged. Retrying
     * with the same request_id returns the thread the first call made.
     * </pre>
     */
    default void createThread(dev.threadline.v1.CreateThreadRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Thread> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCreateThreadMethod(), responseObserver);
    }

    /**
     * <pre>
     * Returns one thread; with view FULL, also its most recent messages, as
     * many as fit in the reply.
     * </pre>
     */
    default void getThread(dev.threadline.v1.GetThreadRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Thread> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetThreadMethod(), responseObserver);
    }

    /**
     * <pre>
     * Lists threads that match a filter, a page at a time. Walking the pages
     * ordered by created_at neither repeats nor skips a thread that exists for
     * the whole walk, whatever else is created or deleted meanwhile. A page
     * holds fewer than page_size threads when more would not fit in 4 MiB;
     * next_page_token then continues after the last one.
     * </pre>
     */
    default void listThreads(dev.threadline.v1.ListThreadsRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ListThreadsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListThreadsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Counts the threads that match a filter (the same filter as ListThreads).
     * </pre>
     */
    default void countThreads(dev.threadline.v1.CountThreadsRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.CountThreadsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCountThreadsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Changes the fields of a thread named by update_mask. An empty mask, or a
     * path that is unknown or output-only, is INVALID_ARGUMENT. When
     * thread.etag is set and no longer current, answers ABORTED with reason
     * ETAG_MISMATCH and changes nothing.
     * </pre>
     */
    default void updateThread(dev.threadline.v1.UpdateThreadRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Thread> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getUpdateThreadMethod(), responseObserver);
    }

    /**
     * <pre>
     * Deletes a thread with its messages and everything else under it, and
     * nothing else. When etag is set and no longer current, answers ABORTED
     * with reason ETAG_MISMATCH and deletes nothing.
     * </pre>
     */
    default void deleteThread(dev.threadline.v1.DeleteThreadRequest request,
        io.grpc.stub.StreamObserver<com.google.protobuf.Empty> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getDeleteThreadMethod(), responseObserver);
    }

    /**
     * <pre>
     * Makes a new thread with the same fields as an existing one and a copy of
     * every message, in the same order. The copy gets a new id and new thread
     * times, and its status starts IDLE; its messages get new ids and keep
     * their role, parts, metadata and created_at.
     * </pre>
     */
    default void copyThread(dev.threadline.v1.CopyThreadRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Thread> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCopyThreadMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service ThreadService.
   * <pre>
   * ThreadService keeps conversation threads. Every call answers
   * INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest naming each
   * bad field when the request is malformed (reason MALFORMED_REQUEST when its
   * bytes are not a valid message at all), and NOT_FOUND with reason
   * THREAD_NOT_FOUND when it names a thread that does not exist or has
   * expired. A rejected call writes nothing. No reply is larger than 4 MiB,
   * the default most a gRPC client accepts.
   * </pre>
   */
  public static abstract class ThreadServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return ThreadServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service ThreadService.
   * <pre>
   * ThreadService keeps conversation threads. Every call answers
   * INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest naming each
   * bad field when the request is malformed (reason MALFORMED_REQUEST when its
   * bytes are not a valid message at all), and NOT_FOUND with reason
   * THREAD_NOT_FOUND when it names a thread that does not exist or has
   * expired. A rejected call writes nothing. No reply is larger than 4 MiB,
   * the default most a gRPC client accepts.
   * </pre>
   */
  public static final class ThreadServiceStub
      extends io.grpc.stub.AbstractAsyncStub<ThreadServiceStub> {
    private ThreadServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected ThreadServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new ThreadServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates a thread. With a thread_id chosen by the client that is already
     * taken, answers ALREADY_EXISTS (reason THREAD_ALREADY_EXISTS) or, with
     * if_exists DO_NOTHING, returns the existing thread unchanged. Retrying
     * with the same request_id returns the thread the first call made.
     * </pre>
     */
    public void createThread(dev.threadline.v1.CreateThreadRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Thread> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCreateThreadMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Returns one thread; with view FULL, also its most recent messages, as
     * many as fit in the reply.
     * </pre>
     */
    public void getThread(dev.threadline.v1.GetThreadRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Thread> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetThreadMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Lists threads that match a filter, a page at a time. Walking the pages
     * ordered by created_at neither repeats nor skips a thread that exists for
     * the whole walk, whatever else is created or deleted meanwhile. A page
     * holds fewer than page_size threads when more would not fit in 4 MiB;
     * next_page_token then continues after the last one.
     * </pre>
     */
    public void listThreads(dev.threadline.v1.ListThreadsRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ListThreadsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListThreadsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Counts the threads that match a filter (the same filter as ListThreads).
     * </pre>
     */
    public void countThreads(dev.threadline.v1.CountThreadsRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.CountThreadsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCountThreadsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Changes the fields of a thread named by update_mask. An empty mask, or a
     * path that is unknown or output-only, is INVALID_ARGUMENT. When
     * thread.etag is set and no longer current, answers ABORTED with reason
     * ETAG_MISMATCH and changes nothing.
     * </pre>
     */
    public void updateThread(dev.threadline.v1.UpdateThreadRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Thread> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getUpdateThreadMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Deletes a thread with its messages and everything else under it, and
     * nothing else. When etag is set and no longer current, answers ABORTED
     * with reason ETAG_MISMATCH and deletes nothing.
     * </pre>
     */
    public void deleteThread(dev.threadline.v1.DeleteThreadRequest request,
        io.grpc.stub.StreamObserver<com.google.protobuf.Empty> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getDeleteThreadMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Makes a new thread with the same fields as an existing one and a copy of
     * every message, in the same order. The copy gets a new id and new thread
     * times, and its status starts IDLE; its messages get new ids and keep
     * their role, parts, metadata and created_at.
     * </pre>
     */
    public void copyThread(dev.threadline.v1.CopyThreadRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Thread> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCopyThreadMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service ThreadService.
   * <pre>
   * ThreadService keeps conversation threads. Every call answers
   * INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest naming each
   * bad field when the request is malformed (reason MALFORMED_REQUEST when its
   * bytes are not a valid message at all), and NOT_FOUND with reason
   * THREAD_NOT_FOUND when it names a thread that does not exist or has
   * expired. A rejected call writes nothing. No reply is larger than 4 MiB,
   * the default most a gRPC client accepts.
   * </pre>
   */
  public static final class ThreadServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<ThreadServiceBlockingV2Stub> {
    private ThreadServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected ThreadServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new ThreadServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates a thread. With a thread_id chosen by the client that is already
     * taken, answers ALREADY_EXISTS (reason THREAD_ALREADY_EXISTS) or, with
     * if_exists DO_NOTHING, returns the existing thread unchanged. Retrying
     * with the same request_id returns the thread the first call made.
     * </pre>
     */
    public dev.threadline.v1.Thread createThread(dev.threadline.v1.CreateThreadRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCreateThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns one thread; with view FULL, also its most recent messages, as
     * many as fit in the reply.
     * </pre>
     */
    public dev.threadline.v1.Thread getThread(dev.threadline.v1.GetThreadRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists threads that match a filter, a page at a time. Walking the pages
     * ordered by created_at neither repeats nor skips a thread that exists for
     * the whole walk, whatever else is created or deleted meanwhile. A page
     * holds fewer than page_size threads when more would not fit in 4 MiB;
     * next_page_token then continues after the last one.
     * </pre>
     */
    public dev.threadline.v1.ListThreadsResponse listThreads(dev.threadline.v1.ListThreadsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListThreadsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Counts the threads that match a filter (the same filter as ListThreads).
     * </pre>
     */
    public dev.threadline.v1.CountThreadsResponse countThreads(dev.threadline.v1.CountThreadsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCountThreadsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Changes the fields of a thread named by update_mask. An empty mask, or a
     * path that is unknown or output-only, is INVALID_ARGUMENT. When
     * thread.etag is set and no longer current, answers ABORTED with reason
     * ETAG_MISMATCH and changes nothing.
     * </pre>
     */
    public dev.threadline.v1.Thread updateThread(dev.threadline.v1.UpdateThreadRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getUpdateThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Deletes a thread with its messages and everything else under it, and
     * nothing else. When etag is set and no longer current, answers ABORTED
     * with reason ETAG_MISMATCH and deletes nothing.
     * </pre>
     */
    public com.google.protobuf.Empty deleteThread(dev.threadline.v1.DeleteThreadRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getDeleteThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Makes a new thread with the same fields as an existing one and a copy of
     * every message, in the same order. The copy gets a new id and new thread
     * times, and its status starts IDLE; its messages get new ids and keep
     * their role, parts, metadata and created_at.
     * </pre>
     */
    public dev.threadline.v1.Thread copyThread(dev.threadline.v1.CopyThreadRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCopyThreadMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service ThreadService.
   * <pre>
   * ThreadService keeps conversation threads. Every call answers
   * INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest naming each
   * bad field when the request is malformed (reason MALFORMED_REQUEST when its
   * bytes are not a valid message at all), and NOT_FOUND with reason
   * THREAD_NOT_FOUND when it names a thread that does not exist or has
   * expired. A rejected call writes nothing. No reply is larger than 4 MiB,
   * the default most a gRPC client accepts.
   * </pre>
   */
  public static final class ThreadServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<ThreadServiceBlockingStub> {
    private ThreadServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected ThreadServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new ThreadServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates a thread. With a thread_id chosen by the client that is already
     * taken, answers ALREADY_EXISTS (reason THREAD_ALREADY_EXISTS) or, with
     * if_exists DO_NOTHING, returns the existing thread unchanged. Retrying
     * with the same request_id returns the thread the first call made.
     * </pre>
     */
    public dev.threadline.v1.Thread createThread(dev.threadline.v1.CreateThreadRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCreateThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns one thread; with view FULL, also its most recent messages, as
     * many as fit in the reply.
     * </pre>
     */
    public dev.threadline.v1.Thread getThread(dev.threadline.v1.GetThreadRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists threads that match a filter, a page at a time. Walking the pages
     * ordered by created_at neither repeats nor skips a thread that exists for
     * the whole walk, whatever else is created or deleted meanwhile. A page
     * holds fewer than page_size threads when more would not fit in 4 MiB;
     * next_page_token then continues after the last one.
     * </pre>
     */
    public dev.threadline.v1.ListThreadsResponse listThreads(dev.threadline.v1.ListThreadsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListThreadsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Counts the threads that match a filter (the same filter as ListThreads).
     * </pre>
     */
    public dev.threadline.v1.CountThreadsResponse countThreads(dev.threadline.v1.CountThreadsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCountThreadsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Changes the fields of a thread named by update_mask. An empty mask, or a
     * path that is unknown or output-only, is INVALID_ARGUMENT. When
     * thread.etag is set and no longer current, answers ABORTED with reason
     * ETAG_MISMATCH and changes nothing.
     * </pre>
     */
    public dev.threadline.v1.Thread updateThread(dev.threadline.v1.UpdateThreadRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getUpdateThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Deletes a thread with its messages and everything else under it, and
     * nothing else. When etag is set and no longer current, answers ABORTED
     * with reason ETAG_MISMATCH and deletes nothing.
     * </pre>
     */
    public com.google.protobuf.Empty deleteThread(dev.threadline.v1.DeleteThreadRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getDeleteThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Makes a new thread with the same fields as an existing one and a copy of
     * every message, in the same order. The copy gets a new id and new thread
     * times, and its status starts IDLE; its messages get new ids and keep
     * their role, parts, metadata and created_at.
     * </pre>
     */
    public dev.threadline.v1.Thread copyThread(dev.threadline.v1.CopyThreadRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCopyThreadMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service ThreadService.
   * <pre>
   * ThreadService keeps conversation threads. Every call answers
   * INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest naming each
   * bad field when the request is malformed (reason MALFORMED_REQUEST when its
   * bytes are not a valid message at all), and NOT_FOUND with reason
   * THREAD_NOT_FOUND when it names a thread that does not exist or has
   * expired. A rejected call writes nothing. No reply is larger than 4 MiB,
   * the default most a gRPC client accepts.
   * </pre>
   */
  public static final class ThreadServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<ThreadServiceFutureStub> {
    private ThreadServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected ThreadServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new ThreadServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates a thread. With a thread_id chosen by the client that is already
     * taken, answers ALREADY_EXISTS (reason THREAD_ALREADY_EXISTS) or, with
     * if_exists DO_NOTHING, returns the existing thread unchanged. Retrying
     * with the same request_id returns the thread the first call made.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.Thread> createThread(
        dev.threadline.v1.CreateThreadRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCreateThreadMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Returns one thread; with view FULL, also its most recent messages, as
     * many as fit in the reply.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.Thread> getThread(
        dev.threadline.v1.GetThreadRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetThreadMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Lists threads that match a filter, a page at a time. Walking the pages
     * ordered by created_at neither repeats nor skips a thread that exists for
     * the whole walk, whatever else is created or deleted meanwhile. A page
     * holds fewer than page_size threads when more would not fit in 4 MiB;
     * next_page_token then continues after the last one.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.ListThreadsResponse> listThreads(
        dev.threadline.v1.ListThreadsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListThreadsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Counts the threads that match a filter (the same filter as ListThreads).
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.CountThreadsResponse> countThreads(
        dev.threadline.v1.CountThreadsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCountThreadsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Changes the fields of a thread named by update_mask. An empty mask, or a
     * path that is unknown or output-only, is INVALID_ARGUMENT. When
     * thread.etag is set and no longer current, answers ABORTED with reason
     * ETAG_MISMATCH and changes nothing.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.Thread> updateThread(
        dev.threadline.v1.UpdateThreadRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getUpdateThreadMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Deletes a thread with its messages and everything else under it, and
     * nothing else. When etag is set and no longer current, answers ABORTED
     * with reason ETAG_MISMATCH and deletes nothing.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<com.google.protobuf.Empty> deleteThread(
        dev.threadline.v1.DeleteThreadRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getDeleteThreadMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Makes a new thread with the same fields as an existing one and a copy of
     * every message, in the same order. The copy gets a new id and new thread
     * times, and its status starts IDLE; its messages get new ids and keep
     * their role, parts, metadata and created_at.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.Thread> copyThread(
        dev.threadline.v1.CopyThreadRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCopyThreadMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_CREATE_THREAD = 0;
  private static final int METHODID_GET_THREAD = 1;
  private static final int METHODID_LIST_THREADS = 2;
  private static final int METHODID_COUNT_THREADS = 3;
  private static final int METHODID_UPDATE_THREAD = 4;
  private static final int METHODID_DELETE_THREAD = 5;
  private static final int METHODID_COPY_THREAD = 6;

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
        case METHODID_CREATE_THREAD:
          serviceImpl.createThread((dev.threadline.v1.CreateThreadRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.Thread>) responseObserver);
          break;
        case METHODID_GET_THREAD:
          serviceImpl.getThread((dev.threadline.v1.GetThreadRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.Thread>) responseObserver);
          break;
        case METHODID_LIST_THREADS:
          serviceImpl.listThreads((dev.threadline.v1.ListThreadsRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.ListThreadsResponse>) responseObserver);
          break;
        case METHODID_COUNT_THREADS:
          serviceImpl.countThreads((dev.threadline.v1.CountThreadsRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.CountThreadsResponse>) responseObserver);
          break;
        case METHODID_UPDATE_THREAD:
          serviceImpl.updateThread((dev.threadline.v1.UpdateThreadRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.Thread>) responseObserver);
          break;
        case METHODID_DELETE_THREAD:
          serviceImpl.deleteThread((dev.threadline.v1.DeleteThreadRequest) request,
              (io.grpc.stub.StreamObserver<com.google.protobuf.Empty>) responseObserver);
          break;
        case METHODID_COPY_THREAD:
          serviceImpl.copyThread((dev.threadline.v1.CopyThreadRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.Thread>) responseObserver);
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
          getCreateThreadMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.CreateThreadRequest,
              dev.threadline.v1.Thread>(
                service, METHODID_CREATE_THREAD)))
        .addMethod(
          getGetThreadMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.GetThreadRequest,
              dev.threadline.v1.Thread>(
                service, METHODID_GET_THREAD)))
        .addMethod(
          getListThreadsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.ListThreadsRequest,
              dev.threadline.v1.ListThreadsResponse>(
                service, METHODID_LIST_THREADS)))
        .addMethod(
          getCountThreadsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.CountThreadsRequest,
              dev.threadline.v1.CountThreadsResponse>(
                service, METHODID_COUNT_THREADS)))
        .addMethod(
          getUpdateThreadMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.UpdateThreadRequest,
              dev.threadline.v1.Thread>(
                service, METHODID_UPDATE_THREAD)))
        .addMethod(
          getDeleteThreadMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.DeleteThreadRequest,
              com.google.protobuf.Empty>(
                service, METHODID_DELETE_THREAD)))
        .addMethod(
          getCopyThreadMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.CopyThreadRequest,
              dev.threadline.v1.Thread>(
                service, METHODID_COPY_THREAD)))
        .build();
  }

  private static abstract class ThreadServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    ThreadServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.threadline.v1.ThreadProto.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("ThreadService");
    }
  }

  private static final class ThreadServiceFileDescriptorSupplier
      extends ThreadServiceBaseDescriptorSupplier {
    ThreadServiceFileDescriptorSupplier() {}
  }

  private static final class ThreadServiceMethodDescriptorSupplier
      extends ThreadServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    ThreadServiceMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (ThreadServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new ThreadServiceFileDescriptorSupplier())
              .addMethod(getCreateThreadMethod())
              .addMethod(getGetThreadMethod())
              .addMethod(getListThreadsMethod())
              .addMethod(getCountThreadsMethod())
              .addMethod(getUpdateThreadMethod())
              .addMethod(getDeleteThreadMethod())
              .addMethod(getCopyThreadMethod())
              .build();
        }
      }
    }
    return result;
  }
}
