package dev.threadline.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * MessageService keeps the messages of a thread: what users, agents, systems
 * and tools said, in order. Every call answers NOT_FOUND with reason
 * THREAD_NOT_FOUND when the thread does not exist (or has expired), and
 * INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest naming each
 * bad field when the request is malformed (reason MALFORMED_REQUEST when its
 * bytes are not a valid message at all); a rejected call writes nothing. No
 * reply is larger than 4 MiB, the default most a gRPC client accepts.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class MessageServiceGrpc {

  private MessageServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "threadline.v1.MessageService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.CreateMessageRequest,
      dev.threadline.v1.Message> getCreateMessageMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CreateMessage",
      requestType = dev.threadline.v1.CreateMessageRequest.class,
      responseType = dev.threadline.v1.Message.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.CreateMessageRequest,
      dev.threadline.v1.Message> getCreateMessageMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.CreateMessageRequest, dev.threadline.v1.Message> getCreateMessageMethod;
    if ((getCreateMessageMethod = MessageServiceGrpc.getCreateMessageMethod) == null) {
      synchronized (MessageServiceGrpc.class) {
        if ((getCreateMessageMethod = MessageServiceGrpc.getCreateMessageMethod) == null) {
          MessageServiceGrpc.getCreateMessageMethod = getCreateMessageMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.CreateMessageRequest, dev.threadline.v1.Message>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CreateMessage"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.CreateMessageRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.Message.getDefaultInstance()))
              .setSchemaDescriptor(new MessageServiceMethodDescriptorSupplier("CreateMessage"))
              .build();
        }
      }
    }
    return getCreateMessageMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.GetMessageRequest,
      dev.threadline.v1.Message> getGetMessageMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetMessage",
      requestType = dev.threadline.v1.GetMessageRequest.class,
      responseType = dev.threadline.v1.Message.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.GetMessageRequest,
      dev.threadline.v1.Message> getGetMessageMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.GetMessageRequest, dev.threadline.v1.Message> getGetMessageMethod;
    if ((getGetMessageMethod = MessageServiceGrpc.getGetMessageMethod) == null) {
      synchronized (MessageServiceGrpc.class) {
        if ((getGetMessageMethod = MessageServiceGrpc.getGetMessageMethod) == null) {
          MessageServiceGrpc.getGetMessageMethod = getGetMessageMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.GetMessageRequest, dev.threadline.v1.Message>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetMessage"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.GetMessageRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.Message.getDefaultInstance()))
              .setSchemaDescriptor(new MessageServiceMethodDescriptorSupplier("GetMessage"))
              .build();
        }
      }
    }
    return getGetMessageMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.ListMessagesRequest,
      dev.threadline.v1.ListMessagesResponse> getListMessagesMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListMessages",
      requestType = dev.threadline.v1.ListMessagesRequest.class,
      responseType = dev.threadline.v1.ListMessagesResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.ListMessagesRequest,
      dev.threadline.v1.ListMessagesResponse> getListMessagesMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.ListMessagesRequest, dev.threadline.v1.ListMessagesResponse> getListMessagesMethod;
    if ((getListMessagesMethod = MessageServiceGrpc.getListMessagesMethod) == null) {
      synchronized (MessageServiceGrpc.class) {
        if ((getListMessagesMethod = MessageServiceGrpc.getListMessagesMethod) == null) {
          MessageServiceGrpc.getListMessagesMethod = getListMessagesMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.ListMessagesRequest, dev.threadline.v1.ListMessagesResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListMessages"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ListMessagesRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ListMessagesResponse.getDefaultInstance()))
              .setSchemaDescriptor(new MessageServiceMethodDescriptorSupplier("ListMessages"))
              .build();
        }
      }
    }
    return getListMessagesMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.UpdateMessageRequest,
      dev.threadline.v1.Message> getUpdateMessageMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "UpdateMessage",
      requestType = dev.threadline.v1.UpdateMessageRequest.class,
      responseType = dev.threadline.v1.Message.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.UpdateMessageRequest,
      dev.threadline.v1.Message> getUpdateMessageMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.UpdateMessageRequest, dev.threadline.v1.Message> getUpdateMessageMethod;
    if ((getUpdateMessageMethod = MessageServiceGrpc.getUpdateMessageMethod) == null) {
      synchronized (MessageServiceGrpc.class) {
        if ((getUpdateMessageMethod = MessageServiceGrpc.getUpdateMessageMethod) == null) {
          MessageServiceGrpc.getUpdateMessageMethod = getUpdateMessageMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.UpdateMessageRequest, dev.threadline.v1.Message>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "UpdateMessage"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.UpdateMessageRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.Message.getDefaultInstance()))
              .setSchemaDescriptor(new MessageServiceMethodDescriptorSupplier("UpdateMessage"))
              .build();
        }
      }
    }
    return getUpdateMessageMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.DeleteMessageRequest,
      com.google.protobuf.Empty> getDeleteMessageMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "DeleteMessage",
      requestType = dev.threadline.v1.DeleteMessageRequest.class,
      responseType = com.google.protobuf.Empty.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.DeleteMessageRequest,
      com.google.protobuf.Empty> getDeleteMessageMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.DeleteMessageRequest, com.google.protobuf.Empty> getDeleteMessageMethod;
    if ((getDeleteMessageMethod = MessageServiceGrpc.getDeleteMessageMethod) == null) {
      synchronized (MessageServiceGrpc.class) {
        if ((getDeleteMessageMethod = MessageServiceGrpc.getDeleteMessageMethod) == null) {
          MessageServiceGrpc.getDeleteMessageMethod = getDeleteMessageMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.DeleteMessageRequest, com.google.protobuf.Empty>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "DeleteMessage"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.DeleteMessageRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  com.google.protobuf.Empty.getDefaultInstance()))
              .setSchemaDescriptor(new MessageServiceMethodDescriptorSupplier("DeleteMessage"))
              .build();
        }
      }
    }
    return getDeleteMessageMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static MessageServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<MessageServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<MessageServiceStub>() {
        @java.lang.Override
        public MessageServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new MessageServiceStub(channel, callOptions);
        }
      };
    return MessageServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static MessageServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<MessageServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<MessageServiceBlockingV2Stub>() {
        @java.lang.Override
        public MessageServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new MessageServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return MessageServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static MessageServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<MessageServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<MessageServiceBlockingStub>() {
        @java.lang.Override
        public MessageServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new MessageServiceBlockingStub(channel, callOptions);
        }
      };
    return MessageServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static MessageServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<MessageServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<MessageServiceFutureStub>() {
        @java.lang.Override
        public MessageServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new MessageServiceFutureStub(channel, callOptions);
        }
      };
    return MessageServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * MessageService keeps the messages of a thread: what users, agents, systems
   * and tools said, in order. Every call answers NOT_FOUND with reason
   * THREAD_NOT_FOUND when the thread does not exist (or has expired), and
   * INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest naming each
   * bad field when the request is malformed (reason MALFORMED_REQUEST when its
   * bytes are not a valid message at all); a rejected call writes nothing. No
   * reply is larger than 4 MiB, the default most a gRPC client accepts.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Appends a message to the end of a thread. The thread's message_count and
     * last_activity_at move with it, and its expire_time is pushed back by its
     * ttl. Returns the stored message with its server-made message_id.
     * Retrying with the same request_id returns the message the first call
     * made.
     * </pre>
     */
    default void createMessage(dev.threadline.v1.CreateMessageRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Message> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCreateMessageMethod(), responseObserver);
    }

    /**
     * <pre>
     * Returns one message. NOT_FOUND with reason MESSAGE_NOT_FOUND when the
     * thread has no message with that id.
     * </pre>
     */
    default void getMessage(dev.threadline.v1.GetMessageRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Message> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetMessageMethod(), responseObserver);
    }

    /**
     * <pre>
     * Lists the messages of a thread a page at a time, oldest first unless
     * order_by asks for newest first. Paging is stable while others write. A
     * page holds fewer than page_size messages when more would not fit in
     * 4 MiB; next_page_token then continues after the last one.
     * </pre>
     */
    default void listMessages(dev.threadline.v1.ListMessagesRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ListMessagesResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListMessagesMethod(), responseObserver);
    }

    /**
     * <pre>
     * Updates the mutable fields of a message (today only metadata) named by
     * update_mask. An empty mask, or a path that is unknown or not mutable, is
     * INVALID_ARGUMENT.
     * </pre>
     */
    default void updateMessage(dev.threadline.v1.UpdateMessageRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Message> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getUpdateMessageMethod(), responseObserver);
    }

    /**
     * <pre>
     * Deletes one message. The thread's message_count drops by one.
     * </pre>
     */
    default void deleteMessage(dev.threadline.v1.DeleteMessageRequest request,
        io.grpc.stub.StreamObserver<com.google.protobuf.Empty> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getDeleteMessageMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service MessageService.
   * <pre>
   * MessageService keeps the messages of a thread: what users, agents, systems
   * and tools said, in order. Every call answers NOT_FOUND with reason
   * THREAD_NOT_FOUND when the thread does not exist (or has expired), and
   * INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest naming each
   * bad field when the request is malformed (reason MALFORMED_REQUEST when its
   * bytes are not a valid message at all); a rejected call writes nothing. No
   * reply is larger than 4 MiB, the default most a gRPC client accepts.
   * </pre>
   */
  public static abstract class MessageServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return MessageServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service MessageService.
   * <pre>
   * MessageService keeps the messages of a thread: what users, agents, systems
   * and tools said, in order. Every call answers NOT_FOUND with reason
   * THREAD_NOT_FOUND when the thread does not exist (or has expired), and
   * INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest naming each
   * bad field when the request is malformed (reason MALFORMED_REQUEST when its
   * bytes are not a valid message at all); a rejected call writes nothing. No
   * reply is larger than 4 MiB, the default most a gRPC client accepts.
   * </pre>
   */
  public static final class MessageServiceStub
      extends io.grpc.stub.AbstractAsyncStub<MessageServiceStub> {
    private MessageServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected MessageServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new MessageServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Appends a message to the end of a thread. The thread's message_count and
     * last_activity_at move with it, and its expire_time is pushed back by its
     * ttl. Returns the stored message with its server-made message_id.
     * Retrying with the same request_id returns the message the first call
     * made.
     * </pre>
     */
    public void createMessage(dev.threadline.v1.CreateMessageRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Message> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCreateMessageMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Returns one message. NOT_FOUND with reason MESSAGE_NOT_FOUND when the
     * thread has no message with that id.
     * </pre>
     */
    public void getMessage(dev.threadline.v1.GetMessageRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Message> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetMessageMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Lists the messages of a thread a page at a time, oldest first unless
     * order_by asks for newest first. Paging is stable while others write. A
     * page holds fewer than page_size messages when more would not fit in
     * 4 MiB; next_page_token then continues after the last one.
     * </pre>
     */
    public void listMessages(dev.threadline.v1.ListMessagesRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ListMessagesResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListMessagesMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Updates the mutable fields of a message (today only metadata) named by
     * update_mask. An empty mask, or a path that is unknown or not mutable, is
     * INVALID_ARGUMENT.
     * </pre>
     */
    public void updateMessage(dev.threadline.v1.UpdateMessageRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Message> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getUpdateMessageMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Deletes one message. The thread's message_count drops by one.
     * </pre>
     */
    public void deleteMessage(dev.threadline.v1.DeleteMessageRequest request,
        io.grpc.stub.StreamObserver<com.google.protobuf.Empty> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getDeleteMessageMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service MessageService.
   * <pre>
   * MessageService keeps the messages of a thread: what users, agents, systems
   * and tools said, in order. Every call answers NOT_FOUND with reason
   * THREAD_NOT_FOUND when the thread does not exist (or has expired), and
   * INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest naming each
   * bad field when the request is malformed (reason MALFORMED_REQUEST when its
   * bytes are not a valid message at all); a rejected call writes nothing. No
   * reply is larger than 4 MiB, the default most a gRPC client accepts.
   * </pre>
   */
  public static final class MessageServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<MessageServiceBlockingV2Stub> {
    private MessageServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected MessageServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new MessageServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Appends a message to the end of a thread. The thread's message_count and
     * last_activity_at move with it, and its expire_time is pushed back by its
     * ttl. Returns the stored message with its server-made message_id.
     * Retrying with the same request_id returns the message the first call
     * made.
     * </pre>
     */
    public dev.threadline.v1.Message createMessage(dev.threadline.v1.CreateMessageRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCreateMessageMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns one message. NOT_FOUND with reason MESSAGE_NOT_FOUND when the
     * thread has no message with that id.
     * </pre>
     */
    public dev.threadline.v1.Message getMessage(dev.threadline.v1.GetMessageRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetMessageMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists the messages of a thread a page at a time, oldest first unless
     * order_by asks for newest first. Paging is stable while others write. A
     * page holds fewer than page_size messages when more would not fit in
     * 4 MiB; next_page_token then continues after the last one.
     * </pre>
     */
    public dev.threadline.v1.ListMessagesResponse listMessages(dev.threadline.v1.ListMessagesRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListMessagesMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Updates the mutable fields of a message (today only metadata) named by
     * update_mask. An empty mask, or a path that is unknown or not mutable, is
     * INVALID_ARGUMENT.
     * </pre>
     */
    public dev.threadline.v1.Message updateMessage(dev.threadline.v1.UpdateMessageRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getUpdateMessageMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Deletes one message. The thread's message_count drops by one.
     * </pre>
     */
    public com.google.protobuf.Empty deleteMessage(dev.threadline.v1.DeleteMessageRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getDeleteMessageMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service MessageService.
   * <pre>
   * MessageService keeps the messages of a thread: what users, agents, systems
   * and tools said, in order. Every call answers NOT_FOUND with reason
   * THREAD_NOT_FOUND when the thread does not exist (or has expired), and
   * INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest naming each
   * bad field when the request is malformed (reason MALFORMED_REQUEST when its
   * bytes are not a valid message at all); a rejected call writes nothing. No
   * reply is larger than 4 MiB, the default most a gRPC client accepts.
   * </pre>
   */
  public static final class MessageServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<MessageServiceBlockingStub> {
    private MessageServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected MessageServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new MessageServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Appends a message to the end of a thread. The thread's message_count and
     * last_activity_at move with it, and its expire_time is pushed back by its
     * ttl. Returns the stored message with its server-made message_id.
     * Retrying with the same request_id returns the message the first call
     * made.
     * </pre>
     */
    public dev.threadline.v1.Message createMessage(dev.threadline.v1.CreateMessageRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCreateMessageMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns one message. NOT_FOUND with reason MESSAGE_NOT_FOUND when the
     * thread has no message with that id.
     * </pre>
     */
    public dev.threadline.v1.Message getMessage(dev.threadline.v1.GetMessageRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetMessageMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists the messages of a thread a page at a time, oldest first unless
     * order_by asks for newest first. Paging is stable while others write. A
     * page holds fewer than page_size messages when more would not fit in
     * 4 MiB; next_page_token then continues after the last one.
     * </pre>
     */
    public dev.threadline.v1.ListMessagesResponse listMessages(dev.threadline.v1.ListMessagesRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListMessagesMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Updates the mutable fields of a message (today only metadata) named by
     * update_mask. An empty mask, or a path that is unknown or not mutable, is
     * INVALID_ARGUMENT.
     * </pre>
     */
    public dev.threadline.v1.Message updateMessage(dev.threadline.v1.UpdateMessageRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getUpdateMessageMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Deletes one message. The thread's message_count drops by one.
     * </pre>
     */
    public com.google.protobuf.Empty deleteMessage(dev.threadline.v1.DeleteMessageRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getDeleteMessageMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service MessageService.
   * <pre>
   * MessageService keeps the messages of a thread: what users, agents, systems
   * and tools said, in order. Every call answers NOT_FOUND with reason
   * THREAD_NOT_FOUND when the thread does not exist (or has expired), and
   * INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest naming each
   * bad field when the request is malformed (reason MALFORMED_REQUEST when its
   * bytes are not a valid message at all); a rejected call writes nothing. No
   * reply is larger than 4 MiB, the default most a gRPC client accepts.
   * </pre>
   */
  public static final class MessageServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<MessageServiceFutureStub> {
    private MessageServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected MessageServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new MessageServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Appends a message to the end of a thread. The thread's message_count and
     * last_activity_at move with it, and its expire_time is pushed back by its
     * ttl. Returns the stored message with its server-made message_id.
     * Retrying with the same request_id returns the message the first call
     * made.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.Message> createMessage(
        dev.threadline.v1.CreateMessageRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCreateMessageMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Returns one message. NOT_FOUND with reason MESSAGE_NOT_FOUND when the
     * thread has no message with that id.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.Message> getMessage(
        dev.threadline.v1.GetMessageRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetMessageMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Lists the messages of a thread a page at a time, oldest first unless
     * order_by asks for newest first. Paging is stable while others write. A
     * page holds fewer than page_size messages when more would not fit in
     * 4 MiB; next_page_token then continues after the last one.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.ListMessagesResponse> listMessages(
        dev.threadline.v1.ListMessagesRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListMessagesMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Updates the mutable fields of a message (today only metadata) named by
     * update_mask. An empty mask, or a path that is unknown or not mutable, is
     * INVALID_ARGUMENT.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.Message> updateMessage(
        dev.threadline.v1.UpdateMessageRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getUpdateMessageMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Deletes one message. The thread's message_count drops by one.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<com.google.protobuf.Empty> deleteMessage(
        dev.threadline.v1.DeleteMessageRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getDeleteMessageMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_CREATE_MESSAGE = 0;
  private static final int METHODID_GET_MESSAGE = 1;
  private static final int METHODID_LIST_MESSAGES = 2;
  private static final int METHODID_UPDATE_MESSAGE = 3;
  private static final int METHODID_DELETE_MESSAGE = 4;

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
        case METHODID_CREATE_MESSAGE:
          serviceImpl.createMessage((dev.threadline.v1.CreateMessageRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.Message>) responseObserver);
          break;
        case METHODID_GET_MESSAGE:
          serviceImpl.getMessage((dev.threadline.v1.GetMessageRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.Message>) responseObserver);
          break;
        case METHODID_LIST_MESSAGES:
          serviceImpl.listMessages((dev.threadline.v1.ListMessagesRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.ListMessagesResponse>) responseObserver);
          break;
        case METHODID_UPDATE_MESSAGE:
          serviceImpl.updateMessage((dev.threadline.v1.UpdateMessageRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.Message>) responseObserver);
          break;
        case METHODID_DELETE_MESSAGE:
          serviceImpl.deleteMessage((dev.threadline.v1.DeleteMessageRequest) request,
              (io.grpc.stub.StreamObserver<com.google.protobuf.Empty>) responseObserver);
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
          getCreateMessageMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.CreateMessageRequest,
              dev.threadline.v1.Message>(
                service, METHODID_CREATE_MESSAGE)))
        .addMethod(
          getGetMessageMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.GetMessageRequest,
              dev.threadline.v1.Message>(
                service, METHODID_GET_MESSAGE)))
        .addMethod(
          getListMessagesMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.ListMessagesRequest,
              dev.threadline.v1.ListMessagesResponse>(
                service, METHODID_LIST_MESSAGES)))
        .addMethod(
          getUpdateMessageMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.UpdateMessageRequest,
              dev.threadline.v1.Message>(
                service, METHODID_UPDATE_MESSAGE)))
        .addMethod(
          getDeleteMessageMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.DeleteMessageRequest,
              com.google.protobuf.Empty>(
                service, METHODID_DELETE_MESSAGE)))
        .build();
  }

  private static abstract class MessageServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    MessageServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.threadline.v1.MessageProto.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("MessageService");
    }
  }

  private static final class MessageServiceFileDescriptorSupplier
      extends MessageServiceBaseDescriptorSupplier {
    MessageServiceFileDescriptorSupplier() {}
  }

  private static final class MessageServiceMethodDescriptorSupplier
      extends MessageServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    MessageServiceMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (MessageServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new MessageServiceFileDescriptorSupplier())
              .addMethod(getCreateMessageMethod())
              .addMethod(getGetMessageMethod())
              .addMethod(getListMessagesMethod())
              .addMethod(getUpdateMessageMethod())
              .addMethod(getDeleteMessageMethod())
              .build();
        }
      }
    }
    return result;
  }
}
