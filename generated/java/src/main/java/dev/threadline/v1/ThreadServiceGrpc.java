package dev.threadline.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * ThreadService keeps conversation threads. It also keeps each thread's
 * state, which its agents keep between runs, with every checkpoint of it.
 * Every call answers
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

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.GetThreadStateRequest,
      dev.threadline.v1.ThreadState> getGetThreadStateMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetThreadState",
      requestType = dev.threadline.v1.GetThreadStateRequest.class,
      responseType = dev.threadline.v1.ThreadState.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.GetThreadStateRequest,
      dev.threadline.v1.ThreadState> getGetThreadStateMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.GetThreadStateRequest, dev.threadline.v1.ThreadState> getGetThreadStateMethod;
    if ((getGetThreadStateMethod = ThreadServiceGrpc.getGetThreadStateMethod) == null) {
      synchronized (ThreadServiceGrpc.class) {
        if ((getGetThreadStateMethod = ThreadServiceGrpc.getGetThreadStateMethod) == null) {
          ThreadServiceGrpc.getGetThreadStateMethod = getGetThreadStateMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.GetThreadStateRequest, dev.threadline.v1.ThreadState>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetThreadState"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.GetThreadStateRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ThreadState.getDefaultInstance()))
              .setSchemaDescriptor(new ThreadServiceMethodDescriptorSupplier("GetThreadState"))
              .build();
        }
      }
    }
    return getGetThreadStateMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.UpdateThreadStateRequest,
      dev.threadline.v1.ThreadState> getUpdateThreadStateMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "UpdateThreadState",
      requestType = dev.threadline.v1.UpdateThreadStateRequest.class,
      responseType = dev.threadline.v1.ThreadState.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.UpdateThreadStateRequest,
      dev.threadline.v1.ThreadState> getUpdateThreadStateMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.UpdateThreadStateRequest, dev.threadline.v1.ThreadState> getUpdateThreadStateMethod;
    if ((getUpdateThreadStateMethod = ThreadServiceGrpc.getUpdateThreadStateMethod) == null) {
      synchronized (ThreadServiceGrpc.class) {
        if ((getUpdateThreadStateMethod = ThreadServiceGrpc.getUpdateThreadStateMethod) == null) {
          ThreadServiceGrpc.getUpdateThreadStateMethod = getUpdateThreadStateMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.UpdateThreadStateRequest, dev.threadline.v1.ThreadState>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "UpdateThreadState"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.UpdateThreadStateRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ThreadState.getDefaultInstance()))
              .setSchemaDescriptor(new ThreadServiceMethodDescriptorSupplier("UpdateThreadState"))
              .build();
        }
      }
    }
    return getUpdateThreadStateMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.ListThreadCheckpointsRequest,
      dev.threadline.v1.ListThreadCheckpointsResponse> getListThreadCheckpointsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListThreadCheckpoints",
      requestType = dev.threadline.v1.ListThreadCheckpointsRequest.class,
      responseType = dev.threadline.v1.ListThreadCheckpointsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.ListThreadCheckpointsRequest,
      dev.threadline.v1.ListThreadCheckpointsResponse> getListThreadCheckpointsMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.ListThreadCheckpointsRequest, dev.threadline.v1.ListThreadCheckpointsResponse> getListThreadCheckpointsMethod;
    if ((getListThreadCheckpointsMethod = ThreadServiceGrpc.getListThreadCheckpointsMethod) == null) {
      synchronized (ThreadServiceGrpc.class) {
        if ((getListThreadCheckpointsMethod = ThreadServiceGrpc.getListThreadCheckpointsMethod) == null) {
          ThreadServiceGrpc.getListThreadCheckpointsMethod = getListThreadCheckpointsMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.ListThreadCheckpointsRequest, dev.threadline.v1.ListThreadCheckpointsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListThreadCheckpoints"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ListThreadCheckpointsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ListThreadCheckpointsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ThreadServiceMethodDescriptorSupplier("ListThreadCheckpoints"))
              .build();
        }
      }
    }
    return getListThreadCheckpointsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.GetDefaultThreadRequest,
      dev.threadline.v1.Thread> getGetDefaultThreadMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetDefaultThread",
      requestType = dev.threadline.v1.GetDefaultThreadRequest.class,
      responseType = dev.threadline.v1.Thread.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.GetDefaultThreadRequest,
      dev.threadline.v1.Thread> getGetDefaultThreadMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.GetDefaultThreadRequest, dev.threadline.v1.Thread> getGetDefaultThreadMethod;
    if ((getGetDefaultThreadMethod = ThreadServiceGrpc.getGetDefaultThreadMethod) == null) {
      synchronized (ThreadServiceGrpc.class) {
        if ((getGetDefaultThreadMethod = ThreadServiceGrpc.getGetDefaultThreadMethod) == null) {
          ThreadServiceGrpc.getGetDefaultThreadMethod = getGetDefaultThreadMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.GetDefaultThreadRequest, dev.threadline.v1.Thread>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetDefaultThread"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.GetDefaultThreadRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.Thread.getDefaultInstance()))
              .setSchemaDescriptor(new ThreadServiceMethodDescriptorSupplier("GetDefaultThread"))
              .build();
        }
      }
    }
    return getGetDefaultThreadMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.ClearThreadRequest,
      dev.threadline.v1.Thread> getClearThreadMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ClearThread",
      requestType = dev.threadline.v1.ClearThreadRequest.class,
      responseType = dev.threadline.v1.Thread.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.ClearThreadRequest,
      dev.threadline.v1.Thread> getClearThreadMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.ClearThreadRequest, dev.threadline.v1.Thread> getClearThreadMethod;
    if ((getClearThreadMethod = ThreadServiceGrpc.getClearThreadMethod) == null) {
      synchronized (ThreadServiceGrpc.class) {
        if ((getClearThreadMethod = ThreadServiceGrpc.getClearThreadMethod) == null) {
          ThreadServiceGrpc.getClearThreadMethod = getClearThreadMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.ClearThreadRequest, dev.threadline.v1.Thread>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ClearThread"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ClearThreadRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.Thread.getDefaultInstance()))
              .setSchemaDescriptor(new ThreadServiceMethodDescriptorSupplier("ClearThread"))
              .build();
        }
      }
    }
    return getClearThreadMethod;
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
   * ThreadService keeps conversation threads. It also keeps each thread's
   * state, which its agents keep between runs, with every checkpoint of it.
   * Every call answers
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
     * with the same request_id returns the thread the first call made. A ttl
     * over the server's --max-thread-ttl is INVALID_ARGUMENT.
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
     * ETAG_MISMATCH and changes nothing. A ttl over the server's
     * --max-thread-ttl is INVALID_ARGUMENT. On a default thread, a mask that
     * names agent_id, user_id or ttl is FAILED_PRECONDITION with reason
     * DEFAULT_THREAD.
     * </pre>
     */
    default void updateThread(dev.threadline.v1.UpdateThreadRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Thread> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getUpdateThreadMethod(), responseObserver);
    }

    /**
     * <pre>
     * Deletes a thread with its messages and everything else under it (runs,
     * events, state and checkpoints), and nothing else. When etag is set and no
     * longer current, answers ABORTED with reason ETAG_MISMATCH and deletes
     * nothing. The default thread of an agent and user cannot be deleted:
     * FAILED_PRECONDITION with reason DEFAULT_THREAD (ClearThread empties it).
     * </pre>
     */
    default void deleteThread(dev.threadline.v1.DeleteThreadRequest request,
        io.grpc.stub.StreamObserver<com.google.protobuf.Empty> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getDeleteThreadMethod(), responseObserver);
    }

    /**
     * <pre>
     * Makes a new thread with the same fields as an existing one and a copy of
     * every message, in the same order, and of its state. The copy gets a new
     * id and new thread times, and its status starts IDLE; its messages get new
     * ids and keep their role, parts, metadata and created_at. Its state is the
     * source's, in one checkpoint of source COPY (the source's history is not
     * copied); a source whose state never changed gives a copy without one.
     * With checkpoint_id, the copy is a fork as of that checkpoint: only the
     * messages written up to it (those the source still has, up to and
     * including the checkpoint's last_message_id), and the checkpoint's state.
     * An unknown checkpoint is NOT_FOUND with reason CHECKPOINT_NOT_FOUND. The
     * copy is never a default thread.
     * </pre>
     */
    default void copyThread(dev.threadline.v1.CopyThreadRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Thread> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCopyThreadMethod(), responseObserver);
    }

    /**
     * <pre>
     * Returns a thread's state: the JSON object its agents read at the start
     * of each run and change as they work, as of its newest checkpoint. A
     * thread whose state never changed has an empty state and no checkpoint.
     * </pre>
     */
    default void getThreadState(dev.threadline.v1.GetThreadStateRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ThreadState> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetThreadStateMethod(), responseObserver);
    }

    /**
     * <pre>
     * Changes a thread's state and returns it; the change makes a checkpoint
     * (source UPDATE). The state is merged, not replaced, unless the mask says
     * so (see UpdateThreadStateRequest.update_mask): as LangGraph's
     * updateState, keys that are not named stay as they were. When
     * thread_state.etag is set and no longer current, answers ABORTED with
     * reason ETAG_MISMATCH and changes nothing. A state that would be larger
     * than 256 KiB is INVALID_ARGUMENT. The state may change while a run is in
     * flight (a person correcting what a waiting agent will read, say); if that
     * run then fails or is cancelled after changing the state itself, the
     * state returns to what it was before the run's first change, and the
     * change made here is undone with it.
     * </pre>
     */
    default void updateThreadState(dev.threadline.v1.UpdateThreadStateRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ThreadState> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getUpdateThreadStateMethod(), responseObserver);
    }

    /**
     * <pre>
     * Lists a thread's checkpoints, newest first: every state it has had, each
     * with what made it. A page holds fewer than page_size checkpoints when
     * more would not fit in 4 MiB; next_page_token then continues after the
     * last one. Paging never repeats or skips a checkpoint, whatever is written
     * meanwhile (new ones come before the first page).
     * </pre>
     */
    default void listThreadCheckpoints(dev.threadline.v1.ListThreadCheckpointsRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ListThreadCheckpointsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListThreadCheckpointsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Returns the default thread of an agent and a user, in the caller's
     * tenant, making it on the first call. Concurrent first calls all return
     * the same thread: the database allows one default thread per agent and
     * user. The default thread cannot be deleted (DeleteThread answers
     * FAILED_PRECONDITION with reason DEFAULT_THREAD), never expires, and its
     * agent_id, user_id and ttl cannot be changed (UpdateThread answers the
     * same); ClearThread empties it. It is a POST because the first call
     * writes.
     * </pre>
     */
    default void getDefaultThread(dev.threadline.v1.GetDefaultThreadRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Thread> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetDefaultThreadMethod(), responseObserver);
    }

    /**
     * <pre>
     * Deletes every message of a thread in one step and returns the thread,
     * with message_count 0; a thread.cleared event marks the moment in the
     * thread's events. The thread itself, its state and checkpoints, its runs
     * and its events stay (as with DeleteMessage, the events of the messages
     * keep what they said). A thread with a run in flight answers
     * FAILED_PRECONDITION with reason THREAD_BUSY. When etag is set and no
     * longer current, answers ABORTED with reason ETAG_MISMATCH. This is how
     * the default thread, which cannot be deleted, starts afresh; to empty its
     * state too, UpdateThreadState with update_mask `values`.
     * </pre>
     */
    default void clearThread(dev.threadline.v1.ClearThreadRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Thread> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getClearThreadMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service ThreadService.
   * <pre>
   * ThreadService keeps conversation threads. It also keeps each thread's
   * state, which its agents keep between runs, with every checkpoint of it.
   * Every call answers
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
   * ThreadService keeps conversation threads. It also keeps each thread's
   * state, which its agents keep between runs, with every checkpoint of it.
   * Every call answers
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
     * with the same request_id returns the thread the first call made. A ttl
     * over the server's --max-thread-ttl is INVALID_ARGUMENT.
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
     * ETAG_MISMATCH and changes nothing. A ttl over the server's
     * --max-thread-ttl is INVALID_ARGUMENT. On a default thread, a mask that
     * names agent_id, user_id or ttl is FAILED_PRECONDITION with reason
     * DEFAULT_THREAD.
     * </pre>
     */
    public void updateThread(dev.threadline.v1.UpdateThreadRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Thread> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getUpdateThreadMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Deletes a thread with its messages and everything else under it (runs,
     * events, state and checkpoints), and nothing else. When etag is set and no
     * longer current, answers ABORTED with reason ETAG_MISMATCH and deletes
     * nothing. The default thread of an agent and user cannot be deleted:
     * FAILED_PRECONDITION with reason DEFAULT_THREAD (ClearThread empties it).
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
     * every message, in the same order, and of its state. The copy gets a new
     * id and new thread times, and its status starts IDLE; its messages get new
     * ids and keep their role, parts, metadata and created_at. Its state is the
     * source's, in one checkpoint of source COPY (the source's history is not
     * copied); a source whose state never changed gives a copy without one.
     * With checkpoint_id, the copy is a fork as of that checkpoint: only the
     * messages written up to it (those the source still has, up to and
     * including the checkpoint's last_message_id), and the checkpoint's state.
     * An unknown checkpoint is NOT_FOUND with reason CHECKPOINT_NOT_FOUND. The
     * copy is never a default thread.
     * </pre>
     */
    public void copyThread(dev.threadline.v1.CopyThreadRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Thread> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCopyThreadMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Returns a thread's state: the JSON object its agents read at the start
     * of each run and change as they work, as of its newest checkpoint. A
     * thread whose state never changed has an empty state and no checkpoint.
     * </pre>
     */
    public void getThreadState(dev.threadline.v1.GetThreadStateRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ThreadState> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetThreadStateMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Changes a thread's state and returns it; the change makes a checkpoint
     * (source UPDATE). The state is merged, not replaced, unless the mask says
     * so (see UpdateThreadStateRequest.update_mask): as LangGraph's
     * updateState, keys that are not named stay as they were. When
     * thread_state.etag is set and no longer current, answers ABORTED with
     * reason ETAG_MISMATCH and changes nothing. A state that would be larger
     * than 256 KiB is INVALID_ARGUMENT. The state may change while a run is in
     * flight (a person correcting what a waiting agent will read, say); if that
     * run then fails or is cancelled after changing the state itself, the
     * state returns to what it was before the run's first change, and the
     * change made here is undone with it.
     * </pre>
     */
    public void updateThreadState(dev.threadline.v1.UpdateThreadStateRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ThreadState> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getUpdateThreadStateMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Lists a thread's checkpoints, newest first: every state it has had, each
     * with what made it. A page holds fewer than page_size checkpoints when
     * more would not fit in 4 MiB; next_page_token then continues after the
     * last one. Paging never repeats or skips a checkpoint, whatever is written
     * meanwhile (new ones come before the first page).
     * </pre>
     */
    public void listThreadCheckpoints(dev.threadline.v1.ListThreadCheckpointsRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ListThreadCheckpointsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListThreadCheckpointsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Returns the default thread of an agent and a user, in the caller's
     * tenant, making it on the first call. Concurrent first calls all return
     * the same thread: the database allows one default thread per agent and
     * user. The default thread cannot be deleted (DeleteThread answers
     * FAILED_PRECONDITION with reason DEFAULT_THREAD), never expires, and its
     * agent_id, user_id and ttl cannot be changed (UpdateThread answers the
     * same); ClearThread empties it. It is a POST because the first call
     * writes.
     * </pre>
     */
    public void getDefaultThread(dev.threadline.v1.GetDefaultThreadRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Thread> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetDefaultThreadMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Deletes every message of a thread in one step and returns the thread,
     * with message_count 0; a thread.cleared event marks the moment in the
     * thread's events. The thread itself, its state and checkpoints, its runs
     * and its events stay (as with DeleteMessage, the events of the messages
     * keep what they said). A thread with a run in flight answers
     * FAILED_PRECONDITION with reason THREAD_BUSY. When etag is set and no
     * longer current, answers ABORTED with reason ETAG_MISMATCH. This is how
     * the default thread, which cannot be deleted, starts afresh; to empty its
     * state too, UpdateThreadState with update_mask `values`.
     * </pre>
     */
    public void clearThread(dev.threadline.v1.ClearThreadRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Thread> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getClearThreadMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service ThreadService.
   * <pre>
   * ThreadService keeps conversation threads. It also keeps each thread's
   * state, which its agents keep between runs, with every checkpoint of it.
   * Every call answers
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
     * with the same request_id returns the thread the first call made. A ttl
     * over the server's --max-thread-ttl is INVALID_ARGUMENT.
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
     * ETAG_MISMATCH and changes nothing. A ttl over the server's
     * --max-thread-ttl is INVALID_ARGUMENT. On a default thread, a mask that
     * names agent_id, user_id or ttl is FAILED_PRECONDITION with reason
     * DEFAULT_THREAD.
     * </pre>
     */
    public dev.threadline.v1.Thread updateThread(dev.threadline.v1.UpdateThreadRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getUpdateThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Deletes a thread with its messages and everything else under it (runs,
     * events, state and checkpoints), and nothing else. When etag is set and no
     * longer current, answers ABORTED with reason ETAG_MISMATCH and deletes
     * nothing. The default thread of an agent and user cannot be deleted:
     * FAILED_PRECONDITION with reason DEFAULT_THREAD (ClearThread empties it).
     * </pre>
     */
    public com.google.protobuf.Empty deleteThread(dev.threadline.v1.DeleteThreadRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getDeleteThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Makes a new thread with the same fields as an existing one and a copy of
     * every message, in the same order, and of its state. The copy gets a new
     * id and new thread times, and its status starts IDLE; its messages get new
     * ids and keep their role, parts, metadata and created_at. Its state is the
     * source's, in one checkpoint of source COPY (the source's history is not
     * copied); a source whose state never changed gives a copy without one.
     * With checkpoint_id, the copy is a fork as of that checkpoint: only the
     * messages written up to it (those the source still has, up to and
     * including the checkpoint's last_message_id), and the checkpoint's state.
     * An unknown checkpoint is NOT_FOUND with reason CHECKPOINT_NOT_FOUND. The
     * copy is never a default thread.
     * </pre>
     */
    public dev.threadline.v1.Thread copyThread(dev.threadline.v1.CopyThreadRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCopyThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns a thread's state: the JSON object its agents read at the start
     * of each run and change as they work, as of its newest checkpoint. A
     * thread whose state never changed has an empty state and no checkpoint.
     * </pre>
     */
    public dev.threadline.v1.ThreadState getThreadState(dev.threadline.v1.GetThreadStateRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetThreadStateMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Changes a thread's state and returns it; the change makes a checkpoint
     * (source UPDATE). The state is merged, not replaced, unless the mask says
     * so (see UpdateThreadStateRequest.update_mask): as LangGraph's
     * updateState, keys that are not named stay as they were. When
     * thread_state.etag is set and no longer current, answers ABORTED with
     * reason ETAG_MISMATCH and changes nothing. A state that would be larger
     * than 256 KiB is INVALID_ARGUMENT. The state may change while a run is in
     * flight (a person correcting what a waiting agent will read, say); if that
     * run then fails or is cancelled after changing the state itself, the
     * state returns to what it was before the run's first change, and the
     * change made here is undone with it.
     * </pre>
     */
    public dev.threadline.v1.ThreadState updateThreadState(dev.threadline.v1.UpdateThreadStateRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getUpdateThreadStateMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists a thread's checkpoints, newest first: every state it has had, each
     * with what made it. A page holds fewer than page_size checkpoints when
     * more would not fit in 4 MiB; next_page_token then continues after the
     * last one. Paging never repeats or skips a checkpoint, whatever is written
     * meanwhile (new ones come before the first page).
     * </pre>
     */
    public dev.threadline.v1.ListThreadCheckpointsResponse listThreadCheckpoints(dev.threadline.v1.ListThreadCheckpointsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListThreadCheckpointsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns the default thread of an agent and a user, in the caller's
     * tenant, making it on the first call. Concurrent first calls all return
     * the same thread: the database allows one default thread per agent and
     * user. The default thread cannot be deleted (DeleteThread answers
     * FAILED_PRECONDITION with reason DEFAULT_THREAD), never expires, and its
     * agent_id, user_id and ttl cannot be changed (UpdateThread answers the
     * same); ClearThread empties it. It is a POST because the first call
     * writes.
     * </pre>
     */
    public dev.threadline.v1.Thread getDefaultThread(dev.threadline.v1.GetDefaultThreadRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetDefaultThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Deletes every message of a thread in one step and returns the thread,
     * with message_count 0; a thread.cleared event marks the moment in the
     * thread's events. The thread itself, its state and checkpoints, its runs
     * and its events stay (as with DeleteMessage, the events of the messages
     * keep what they said). A thread with a run in flight answers
     * FAILED_PRECONDITION with reason THREAD_BUSY. When etag is set and no
     * longer current, answers ABORTED with reason ETAG_MISMATCH. This is how
     * the default thread, which cannot be deleted, starts afresh; to empty its
     * state too, UpdateThreadState with update_mask `values`.
     * </pre>
     */
    public dev.threadline.v1.Thread clearThread(dev.threadline.v1.ClearThreadRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getClearThreadMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service ThreadService.
   * <pre>
   * ThreadService keeps conversation threads. It also keeps each thread's
   * state, which its agents keep between runs, with every checkpoint of it.
   * Every call answers
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
     * with the same request_id returns the thread the first call made. A ttl
     * over the server's --max-thread-ttl is INVALID_ARGUMENT.
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
     * ETAG_MISMATCH and changes nothing. A ttl over the server's
     * --max-thread-ttl is INVALID_ARGUMENT. On a default thread, a mask that
     * names agent_id, user_id or ttl is FAILED_PRECONDITION with reason
     * DEFAULT_THREAD.
     * </pre>
     */
    public dev.threadline.v1.Thread updateThread(dev.threadline.v1.UpdateThreadRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getUpdateThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Deletes a thread with its messages and everything else under it (runs,
     * events, state and checkpoints), and nothing else. When etag is set and no
     * longer current, answers ABORTED with reason ETAG_MISMATCH and deletes
     * nothing. The default thread of an agent and user cannot be deleted:
     * FAILED_PRECONDITION with reason DEFAULT_THREAD (ClearThread empties it).
     * </pre>
     */
    public com.google.protobuf.Empty deleteThread(dev.threadline.v1.DeleteThreadRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getDeleteThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Makes a new thread with the same fields as an existing one and a copy of
     * every message, in the same order, and of its state. The copy gets a new
     * id and new thread times, and its status starts IDLE; its messages get new
     * ids and keep their role, parts, metadata and created_at. Its state is the
     * source's, in one checkpoint of source COPY (the source's history is not
     * copied); a source whose state never changed gives a copy without one.
     * With checkpoint_id, the copy is a fork as of that checkpoint: only the
     * messages written up to it (those the source still has, up to and
     * including the checkpoint's last_message_id), and the checkpoint's state.
     * An unknown checkpoint is NOT_FOUND with reason CHECKPOINT_NOT_FOUND. The
     * copy is never a default thread.
     * </pre>
     */
    public dev.threadline.v1.Thread copyThread(dev.threadline.v1.CopyThreadRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCopyThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns a thread's state: the JSON object its agents read at the start
     * of each run and change as they work, as of its newest checkpoint. A
     * thread whose state never changed has an empty state and no checkpoint.
     * </pre>
     */
    public dev.threadline.v1.ThreadState getThreadState(dev.threadline.v1.GetThreadStateRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetThreadStateMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Changes a thread's state and returns it; the change makes a checkpoint
     * (source UPDATE). The state is merged, not replaced, unless the mask says
     * so (see UpdateThreadStateRequest.update_mask): as LangGraph's
     * updateState, keys that are not named stay as they were. When
     * thread_state.etag is set and no longer current, answers ABORTED with
     * reason ETAG_MISMATCH and changes nothing. A state that would be larger
     * than 256 KiB is INVALID_ARGUMENT. The state may change while a run is in
     * flight (a person correcting what a waiting agent will read, say); if that
     * run then fails or is cancelled after changing the state itself, the
     * state returns to what it was before the run's first change, and the
     * change made here is undone with it.
     * </pre>
     */
    public dev.threadline.v1.ThreadState updateThreadState(dev.threadline.v1.UpdateThreadStateRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getUpdateThreadStateMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists a thread's checkpoints, newest first: every state it has had, each
     * with what made it. A page holds fewer than page_size checkpoints when
     * more would not fit in 4 MiB; next_page_token then continues after the
     * last one. Paging never repeats or skips a checkpoint, whatever is written
     * meanwhile (new ones come before the first page).
     * </pre>
     */
    public dev.threadline.v1.ListThreadCheckpointsResponse listThreadCheckpoints(dev.threadline.v1.ListThreadCheckpointsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListThreadCheckpointsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns the default thread of an agent and a user, in the caller's
     * tenant, making it on the first call. Concurrent first calls all return
     * the same thread: the database allows one default thread per agent and
     * user. The default thread cannot be deleted (DeleteThread answers
     * FAILED_PRECONDITION with reason DEFAULT_THREAD), never expires, and its
     * agent_id, user_id and ttl cannot be changed (UpdateThread answers the
     * same); ClearThread empties it. It is a POST because the first call
     * writes.
     * </pre>
     */
    public dev.threadline.v1.Thread getDefaultThread(dev.threadline.v1.GetDefaultThreadRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetDefaultThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Deletes every message of a thread in one step and returns the thread,
     * with message_count 0; a thread.cleared event marks the moment in the
     * thread's events. The thread itself, its state and checkpoints, its runs
     * and its events stay (as with DeleteMessage, the events of the messages
     * keep what they said). A thread with a run in flight answers
     * FAILED_PRECONDITION with reason THREAD_BUSY. When etag is set and no
     * longer current, answers ABORTED with reason ETAG_MISMATCH. This is how
     * the default thread, which cannot be deleted, starts afresh; to empty its
     * state too, UpdateThreadState with update_mask `values`.
     * </pre>
     */
    public dev.threadline.v1.Thread clearThread(dev.threadline.v1.ClearThreadRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getClearThreadMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service ThreadService.
   * <pre>
   * ThreadService keeps conversation threads. It also keeps each thread's
   * state, which its agents keep between runs, with every checkpoint of it.
   * Every call answers
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
     * with the same request_id returns the thread the first call made. A ttl
     * over the server's --max-thread-ttl is INVALID_ARGUMENT.
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
     * ETAG_MISMATCH and changes nothing. A ttl over the server's
     * --max-thread-ttl is INVALID_ARGUMENT. On a default thread, a mask that
     * names agent_id, user_id or ttl is FAILED_PRECONDITION with reason
     * DEFAULT_THREAD.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.Thread> updateThread(
        dev.threadline.v1.UpdateThreadRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getUpdateThreadMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Deletes a thread with its messages and everything else under it (runs,
     * events, state and checkpoints), and nothing else. When etag is set and no
     * longer current, answers ABORTED with reason ETAG_MISMATCH and deletes
     * nothing. The default thread of an agent and user cannot be deleted:
     * FAILED_PRECONDITION with reason DEFAULT_THREAD (ClearThread empties it).
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
     * every message, in the same order, and of its state. The copy gets a new
     * id and new thread times, and its status starts IDLE; its messages get new
     * ids and keep their role, parts, metadata and created_at. Its state is the
     * source's, in one checkpoint of source COPY (the source's history is not
     * copied); a source whose state never changed gives a copy without one.
     * With checkpoint_id, the copy is a fork as of that checkpoint: only the
     * messages written up to it (those the source still has, up to and
     * including the checkpoint's last_message_id), and the checkpoint's state.
     * An unknown checkpoint is NOT_FOUND with reason CHECKPOINT_NOT_FOUND. The
     * copy is never a default thread.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.Thread> copyThread(
        dev.threadline.v1.CopyThreadRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCopyThreadMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Returns a thread's state: the JSON object its agents read at the start
     * of each run and change as they work, as of its newest checkpoint. A
     * thread whose state never changed has an empty state and no checkpoint.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.ThreadState> getThreadState(
        dev.threadline.v1.GetThreadStateRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetThreadStateMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Changes a thread's state and returns it; the change makes a checkpoint
     * (source UPDATE). The state is merged, not replaced, unless the mask says
     * so (see UpdateThreadStateRequest.update_mask): as LangGraph's
     * updateState, keys that are not named stay as they were. When
     * thread_state.etag is set and no longer current, answers ABORTED with
     * reason ETAG_MISMATCH and changes nothing. A state that would be larger
     * than 256 KiB is INVALID_ARGUMENT. The state may change while a run is in
     * flight (a person correcting what a waiting agent will read, say); if that
     * run then fails or is cancelled after changing the state itself, the
     * state returns to what it was before the run's first change, and the
     * change made here is undone with it.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.ThreadState> updateThreadState(
        dev.threadline.v1.UpdateThreadStateRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getUpdateThreadStateMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Lists a thread's checkpoints, newest first: every state it has had, each
     * with what made it. A page holds fewer than page_size checkpoints when
     * more would not fit in 4 MiB; next_page_token then continues after the
     * last one. Paging never repeats or skips a checkpoint, whatever is written
     * meanwhile (new ones come before the first page).
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.ListThreadCheckpointsResponse> listThreadCheckpoints(
        dev.threadline.v1.ListThreadCheckpointsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListThreadCheckpointsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Returns the default thread of an agent and a user, in the caller's
     * tenant, making it on the first call. Concurrent first calls all return
     * the same thread: the database allows one default thread per agent and
     * user. The default thread cannot be deleted (DeleteThread answers
     * FAILED_PRECONDITION with reason DEFAULT_THREAD), never expires, and its
     * agent_id, user_id and ttl cannot be changed (UpdateThread answers the
     * same); ClearThread empties it. It is a POST because the first call
     * writes.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.Thread> getDefaultThread(
        dev.threadline.v1.GetDefaultThreadRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetDefaultThreadMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Deletes every message of a thread in one step and returns the thread,
     * with message_count 0; a thread.cleared event marks the moment in the
     * thread's events. The thread itself, its state and checkpoints, its runs
     * and its events stay (as with DeleteMessage, the events of the messages
     * keep what they said). A thread with a run in flight answers
     * FAILED_PRECONDITION with reason THREAD_BUSY. When etag is set and no
     * longer current, answers ABORTED with reason ETAG_MISMATCH. This is how
     * the default thread, which cannot be deleted, starts afresh; to empty its
     * state too, UpdateThreadState with update_mask `values`.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.Thread> clearThread(
        dev.threadline.v1.ClearThreadRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getClearThreadMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_CREATE_THREAD = 0;
  private static final int METHODID_GET_THREAD = 1;
  private static final int METHODID_LIST_THREADS = 2;
  private static final int METHODID_COUNT_THREADS = 3;
  private static final int METHODID_UPDATE_THREAD = 4;
  private static final int METHODID_DELETE_THREAD = 5;
  private static final int METHODID_COPY_THREAD = 6;
  private static final int METHODID_GET_THREAD_STATE = 7;
  private static final int METHODID_UPDATE_THREAD_STATE = 8;
  private static final int METHODID_LIST_THREAD_CHECKPOINTS = 9;
  private static final int METHODID_GET_DEFAULT_THREAD = 10;
  private static final int METHODID_CLEAR_THREAD = 11;

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
        case METHODID_GET_THREAD_STATE:
          serviceImpl.getThreadState((dev.threadline.v1.GetThreadStateRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.ThreadState>) responseObserver);
          break;
        case METHODID_UPDATE_THREAD_STATE:
          serviceImpl.updateThreadState((dev.threadline.v1.UpdateThreadStateRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.ThreadState>) responseObserver);
          break;
        case METHODID_LIST_THREAD_CHECKPOINTS:
          serviceImpl.listThreadCheckpoints((dev.threadline.v1.ListThreadCheckpointsRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.ListThreadCheckpointsResponse>) responseObserver);
          break;
        case METHODID_GET_DEFAULT_THREAD:
          serviceImpl.getDefaultThread((dev.threadline.v1.GetDefaultThreadRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.Thread>) responseObserver);
          break;
        case METHODID_CLEAR_THREAD:
          serviceImpl.clearThread((dev.threadline.v1.ClearThreadRequest) request,
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
        .addMethod(
          getGetThreadStateMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.GetThreadStateRequest,
              dev.threadline.v1.ThreadState>(
                service, METHODID_GET_THREAD_STATE)))
        .addMethod(
          getUpdateThreadStateMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.UpdateThreadStateRequest,
              dev.threadline.v1.ThreadState>(
                service, METHODID_UPDATE_THREAD_STATE)))
        .addMethod(
          getListThreadCheckpointsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.ListThreadCheckpointsRequest,
              dev.threadline.v1.ListThreadCheckpointsResponse>(
                service, METHODID_LIST_THREAD_CHECKPOINTS)))
        .addMethod(
          getGetDefaultThreadMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.GetDefaultThreadRequest,
              dev.threadline.v1.Thread>(
                service, METHODID_GET_DEFAULT_THREAD)))
        .addMethod(
          getClearThreadMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.ClearThreadRequest,
              dev.threadline.v1.Thread>(
                service, METHODID_CLEAR_THREAD)))
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
              .addMethod(getGetThreadStateMethod())
              .addMethod(getUpdateThreadStateMethod())
              .addMethod(getListThreadCheckpointsMethod())
              .addMethod(getGetDefaultThreadMethod())
              .addMethod(getClearThreadMethod())
              .build();
        }
      }
    }
    return result;
  }
}
