package dev.threadline.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * WebhookService calls a caller's HTTP endpoint back when runs end or wait.
 * A webhook is a URL, the event types it wants, and a secret. When a run
 * event of one of those types is written (run.completed,
 * run.max_iterations_reached, run.failed, run.cancelled, and
 * run.requires_action when a run waits for its caller), a delivery is
 * written in the same transaction, so a crash loses none, and the server then
 * POSTs the event to the URL as JSON, signed as the Standard Webhooks
 * specification lays out (headers webhook-id, webhook-timestamp and
 * webhook-signature: `v1,` and the base64 HMAC-SHA256, keyed with the
 * secret, of `id.timestamp.body`). A delivery is sent at least once: any
 * answer but 2xx, or none in time, is retried with exponential backoff and
 * jitter until the server's --webhook-retry-window has passed, when it fails
 * for good. A receiver tells retries apart by the webhook-id header, which
 * stays the same for every attempt of one delivery.
 * Only http and https URLs are accepted, and a URL whose host resolves to a
 * loopback, private, link-local, multicast or unspecified address is refused
 * (INVALID_ARGUMENT with reason WEBHOOK_URL_NOT_ALLOWED), unless the operator
 * allowed it with --webhook-allow; the address is checked again at every
 * attempt, and redirects are not followed. A run can also name a URL of its
 * own (CreateRunRequest.webhook_url). Webhooks belong to the caller's tenant;
 * managing them needs a key of scope write, reading them scope read. Every
 * call answers INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest
 * naming each bad field when the request is malformed, NOT_FOUND with reason
 * WEBHOOK_NOT_FOUND for an unknown webhook, and writes nothing when it fails.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class WebhookServiceGrpc {

  private WebhookServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "threadline.v1.WebhookService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.CreateWebhookRequest,
      dev.threadline.v1.Webhook> getCreateWebhookMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CreateWebhook",
      requestType = dev.threadline.v1.CreateWebhookRequest.class,
      responseType = dev.threadline.v1.Webhook.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.CreateWebhookRequest,
      dev.threadline.v1.Webhook> getCreateWebhookMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.CreateWebhookRequest, dev.threadline.v1.Webhook> getCreateWebhookMethod;
    if ((getCreateWebhookMethod = WebhookServiceGrpc.getCreateWebhookMethod) == null) {
      synchronized (WebhookServiceGrpc.class) {
        if ((getCreateWebhookMethod = WebhookServiceGrpc.getCreateWebhookMethod) == null) {
          WebhookServiceGrpc.getCreateWebhookMethod = getCreateWebhookMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.CreateWebhookRequest, dev.threadline.v1.Webhook>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CreateWebhook"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.CreateWebhookRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.Webhook.getDefaultInstance()))
              .setSchemaDescriptor(new WebhookServiceMethodDescriptorSupplier("CreateWebhook"))
              .build();
        }
      }
    }
    return getCreateWebhookMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.GetWebhookRequest,
      dev.threadline.v1.Webhook> getGetWebhookMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetWebhook",
      requestType = dev.threadline.v1.GetWebhookRequest.class,
      responseType = dev.threadline.v1.Webhook.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.GetWebhookRequest,
      dev.threadline.v1.Webhook> getGetWebhookMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.GetWebhookRequest, dev.threadline.v1.Webhook> getGetWebhookMethod;
    if ((getGetWebhookMethod = WebhookServiceGrpc.getGetWebhookMethod) == null) {
      synchronized (WebhookServiceGrpc.class) {
        if ((getGetWebhookMethod = WebhookServiceGrpc.getGetWebhookMethod) == null) {
          WebhookServiceGrpc.getGetWebhookMethod = getGetWebhookMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.GetWebhookRequest, dev.threadline.v1.Webhook>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetWebhook"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.GetWebhookRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.Webhook.getDefaultInstance()))
              .setSchemaDescriptor(new WebhookServiceMethodDescriptorSupplier("GetWebhook"))
              .build();
        }
      }
    }
    return getGetWebhookMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.ListWebhooksRequest,
      dev.threadline.v1.ListWebhooksResponse> getListWebhooksMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListWebhooks",
      requestType = dev.threadline.v1.ListWebhooksRequest.class,
      responseType = dev.threadline.v1.ListWebhooksResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.ListWebhooksRequest,
      dev.threadline.v1.ListWebhooksResponse> getListWebhooksMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.ListWebhooksRequest, dev.threadline.v1.ListWebhooksResponse> getListWebhooksMethod;
    if ((getListWebhooksMethod = WebhookServiceGrpc.getListWebhooksMethod) == null) {
      synchronized (WebhookServiceGrpc.class) {
        if ((getListWebhooksMethod = WebhookServiceGrpc.getListWebhooksMethod) == null) {
          WebhookServiceGrpc.getListWebhooksMethod = getListWebhooksMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.ListWebhooksRequest, dev.threadline.v1.ListWebhooksResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListWebhooks"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ListWebhooksRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ListWebhooksResponse.getDefaultInstance()))
              .setSchemaDescriptor(new WebhookServiceMethodDescriptorSupplier("ListWebhooks"))
              .build();
        }
      }
    }
    return getListWebhooksMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.DeleteWebhookRequest,
      com.google.protobuf.Empty> getDeleteWebhookMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "DeleteWebhook",
      requestType = dev.threadline.v1.DeleteWebhookRequest.class,
      responseType = com.google.protobuf.Empty.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.DeleteWebhookRequest,
      com.google.protobuf.Empty> getDeleteWebhookMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.DeleteWebhookRequest, com.google.protobuf.Empty> getDeleteWebhookMethod;
    if ((getDeleteWebhookMethod = WebhookServiceGrpc.getDeleteWebhookMethod) == null) {
      synchronized (WebhookServiceGrpc.class) {
        if ((getDeleteWebhookMethod = WebhookServiceGrpc.getDeleteWebhookMethod) == null) {
          WebhookServiceGrpc.getDeleteWebhookMethod = getDeleteWebhookMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.DeleteWebhookRequest, com.google.protobuf.Empty>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "DeleteWebhook"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.DeleteWebhookRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  com.google.protobuf.Empty.getDefaultInstance()))
              .setSchemaDescriptor(new WebhookServiceMethodDescriptorSupplier("DeleteWebhook"))
              .build();
        }
      }
    }
    return getDeleteWebhookMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.ListWebhookDeliveriesRequest,
      dev.threadline.v1.ListWebhookDeliveriesResponse> getListWebhookDeliveriesMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListWebhookDeliveries",
      requestType = dev.threadline.v1.ListWebhookDeliveriesRequest.class,
      responseType = dev.threadline.v1.ListWebhookDeliveriesResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.ListWebhookDeliveriesRequest,
      dev.threadline.v1.ListWebhookDeliveriesResponse> getListWebhookDeliveriesMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.ListWebhookDeliveriesRequest, dev.threadline.v1.ListWebhookDeliveriesResponse> getListWebhookDeliveriesMethod;
    if ((getListWebhookDeliveriesMethod = WebhookServiceGrpc.getListWebhookDeliveriesMethod) == null) {
      synchronized (WebhookServiceGrpc.class) {
        if ((getListWebhookDeliveriesMethod = WebhookServiceGrpc.getListWebhookDeliveriesMethod) == null) {
          WebhookServiceGrpc.getListWebhookDeliveriesMethod = getListWebhookDeliveriesMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.ListWebhookDeliveriesRequest, dev.threadline.v1.ListWebhookDeliveriesResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListWebhookDeliveries"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ListWebhookDeliveriesRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ListWebhookDeliveriesResponse.getDefaultInstance()))
              .setSchemaDescriptor(new WebhookServiceMethodDescriptorSupplier("ListWebhookDeliveries"))
              .build();
        }
      }
    }
    return getListWebhookDeliveriesMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static WebhookServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<WebhookServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<WebhookServiceStub>() {
        @java.lang.Override
        public WebhookServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new WebhookServiceStub(channel, callOptions);
        }
      };
    return WebhookServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static WebhookServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<WebhookServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<WebhookServiceBlockingV2Stub>() {
        @java.lang.Override
        public WebhookServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new WebhookServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return WebhookServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static WebhookServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<WebhookServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<WebhookServiceBlockingStub>() {
        @java.lang.Override
        public WebhookServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new WebhookServiceBlockingStub(channel, callOptions);
        }
      };
    return WebhookServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static WebhookServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<WebhookServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<WebhookServiceFutureStub>() {
        @java.lang.Override
        public WebhookServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new WebhookServiceFutureStub(channel, callOptions);
        }
      };
    return WebhookServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * WebhookService calls a caller's HTTP endpoint back when runs end or wait.
   * A webhook is a URL, the event types it wants, and a secret. When a run
   * event of one of those types is written (run.completed,
   * run.max_iterations_reached, run.failed, run.cancelled, and
   * run.requires_action when a run waits for its caller), a delivery is
   * written in the same transaction, so a crash loses none, and the server then
   * POSTs the event to the URL as JSON, signed as the Standard Webhooks
   * specification lays out (headers webhook-id, webhook-timestamp and
   * webhook-signature: `v1,` and the base64 HMAC-SHA256, keyed with the
   * secret, of `id.timestamp.body`). A delivery is sent at least once: any
   * answer but 2xx, or none in time, is retried with exponential backoff and
   * jitter until the server's --webhook-retry-window has passed, when it fails
   * for good. A receiver tells retries apart by the webhook-id header, which
   * stays the same for every attempt of one delivery.
   * Only http and https URLs are accepted, and a URL whose host resolves to a
   * loopback, private, link-local, multicast or unspecified address is refused
   * (INVALID_ARGUMENT with reason WEBHOOK_URL_NOT_ALLOWED), unless the operator
   * allowed it with --webhook-allow; the address is checked again at every
   * attempt, and redirects are not followed. A run can also name a URL of its
   * own (CreateRunRequest.webhook_url). Webhooks belong to the caller's tenant;
   * managing them needs a key of scope write, reading them scope read. Every
   * call answers INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest
   * naming each bad field when the request is malformed, NOT_FOUND with reason
   * WEBHOOK_NOT_FOUND for an unknown webhook, and writes nothing when it fails.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Makes a webhook and returns it, with its secret: the only reply that
     * carries the secret, which the server makes when the request gives none.
     * A tenant has at most 100 webhooks made this way: one more is
     * FAILED_PRECONDITION with reason TOO_MANY_WEBHOOKS.
     * </pre>
     */
    default void createWebhook(dev.threadline.v1.CreateWebhookRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Webhook> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCreateWebhookMethod(), responseObserver);
    }

    /**
     * <pre>
     * Returns one webhook, without its secret.
     * </pre>
     */
    default void getWebhook(dev.threadline.v1.GetWebhookRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Webhook> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetWebhookMethod(), responseObserver);
    }

    /**
     * <pre>
     * Lists the tenant's webhooks made by CreateWebhook (not the runs' own),
     * newest first, without their secrets.
     * </pre>
     */
    default void listWebhooks(dev.threadline.v1.ListWebhooksRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ListWebhooksResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListWebhooksMethod(), responseObserver);
    }

    /**
     * <pre>
     * Deletes a webhook and its deliveries, sent or not: nothing more is sent
     * to it.
     * </pre>
     */
    default void deleteWebhook(dev.threadline.v1.DeleteWebhookRequest request,
        io.grpc.stub.StreamObserver<com.google.protobuf.Empty> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getDeleteWebhookMethod(), responseObserver);
    }

    /**
     * <pre>
     * Lists deliveries, newest first: of one webhook, of one run, of both, or
     * of every webhook of the tenant; each with its attempts, their status
     * codes and errors, and when it is tried next.
     * </pre>
     */
    default void listWebhookDeliveries(dev.threadline.v1.ListWebhookDeliveriesRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ListWebhookDeliveriesResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListWebhookDeliveriesMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service WebhookService.
   * <pre>
   * WebhookService calls a caller's HTTP endpoint back when runs end or wait.
   * A webhook is a URL, the event types it wants, and a secret. When a run
   * event of one of those types is written (run.completed,
   * run.max_iterations_reached, run.failed, run.cancelled, and
   * run.requires_action when a run waits for its caller), a delivery is
   * written in the same transaction, so a crash loses none, and the server then
   * POSTs the event to the URL as JSON, signed as the Standard Webhooks
   * specification lays out (headers webhook-id, webhook-timestamp and
   * webhook-signature: `v1,` and the base64 HMAC-SHA256, keyed with the
   * secret, of `id.timestamp.body`). A delivery is sent at least once: any
   * answer but 2xx, or none in time, is retried with exponential backoff and
   * jitter until the server's --webhook-retry-window has passed, when it fails
   * for good. A receiver tells retries apart by the webhook-id header, which
   * stays the same for every attempt of one delivery.
   * Only http and https URLs are accepted, and a URL whose host resolves to a
   * loopback, private, link-local, multicast or unspecified address is refused
   * (INVALID_ARGUMENT with reason WEBHOOK_URL_NOT_ALLOWED), unless the operator
   * allowed it with --webhook-allow; the address is checked again at every
   * attempt, and redirects are not followed. A run can also name a URL of its
   * own (CreateRunRequest.webhook_url). Webhooks belong to the caller's tenant;
   * managing them needs a key of scope write, reading them scope read. Every
   * call answers INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest
   * naming each bad field when the request is malformed, NOT_FOUND with reason
   * WEBHOOK_NOT_FOUND for an unknown webhook, and writes nothing when it fails.
   * </pre>
   */
  public static abstract class WebhookServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return WebhookServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service WebhookService.
   * <pre>
   * WebhookService calls a caller's HTTP endpoint back when runs end or wait.
   * A webhook is a URL, the event types it wants, and a secret. When a run
   * event of one of those types is written (run.completed,
   * run.max_iterations_reached, run.failed, run.cancelled, and
   * run.requires_action when a run waits for its caller), a delivery is
   * written in the same transaction, so a crash loses none, and the server then
   * POSTs the event to the URL as JSON, signed as the Standard Webhooks
   * specification lays out (headers webhook-id, webhook-timestamp and
   * webhook-signature: `v1,` and the base64 HMAC-SHA256, keyed with the
   * secret, of `id.timestamp.body`). A delivery is sent at least once: any
   * answer but 2xx, or none in time, is retried with exponential backoff and
   * jitter until the server's --webhook-retry-window has passed, when it fails
   * for good. A receiver tells retries apart by the webhook-id header, which
   * stays the same for every attempt of one delivery.
   * Only http and https URLs are accepted, and a URL whose host resolves to a
   * loopback, private, link-local, multicast or unspecified address is refused
   * (INVALID_ARGUMENT with reason WEBHOOK_URL_NOT_ALLOWED), unless the operator
   * allowed it with --webhook-allow; the address is checked again at every
   * attempt, and redirects are not followed. A run can also name a URL of its
   * own (CreateRunRequest.webhook_url). Webhooks belong to the caller's tenant;
   * managing them needs a key of scope write, reading them scope read. Every
   * call answers INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest
   * naming each bad field when the request is malformed, NOT_FOUND with reason
   * WEBHOOK_NOT_FOUND for an unknown webhook, and writes nothing when it fails.
   * </pre>
   */
  public static final class WebhookServiceStub
      extends io.grpc.stub.AbstractAsyncStub<WebhookServiceStub> {
    private WebhookServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected WebhookServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new WebhookServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Makes a webhook and returns it, with its secret: the only reply that
     * carries the secret, which the server makes when the request gives none.
     * A tenant has at most 100 webhooks made this way: one more is
     * FAILED_PRECONDITION with reason TOO_MANY_WEBHOOKS.
     * </pre>
     */
    public void createWebhook(dev.threadline.v1.CreateWebhookRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Webhook> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCreateWebhookMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Returns one webhook, without its secret.
     * </pre>
     */
    public void getWebhook(dev.threadline.v1.GetWebhookRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.Webhook> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetWebhookMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Lists the tenant's webhooks made by CreateWebhook (not the runs' own),
     * newest first, without their secrets.
     * </pre>
     */
    public void listWebhooks(dev.threadline.v1.ListWebhooksRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ListWebhooksResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListWebhooksMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Deletes a webhook and its deliveries, sent or not: nothing more is sent
     * to it.
     * </pre>
     */
    public void deleteWebhook(dev.threadline.v1.DeleteWebhookRequest request,
        io.grpc.stub.StreamObserver<com.google.protobuf.Empty> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getDeleteWebhookMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Lists deliveries, newest first: of one webhook, of one run, of both, or
     * of every webhook of the tenant; each with its attempts, their status
     * codes and errors, and when it is tried next.
     * </pre>
     */
    public void listWebhookDeliveries(dev.threadline.v1.ListWebhookDeliveriesRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ListWebhookDeliveriesResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListWebhookDeliveriesMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service WebhookService.
   * <pre>
   * WebhookService calls a caller's HTTP endpoint back when runs end or wait.
   * A webhook is a URL, the event types it wants, and a secret. When a run
   * event of one of those types is written (run.completed,
   * run.max_iterations_reached, run.failed, run.cancelled, and
   * run.requires_action when a run waits for its caller), a delivery is
   * written in the same transaction, so a crash loses none, and the server then
   * POSTs the event to the URL as JSON, signed as the Standard Webhooks
   * specification lays out (headers webhook-id, webhook-timestamp and
   * webhook-signature: `v1,` and the base64 HMAC-SHA256, keyed with the
   * secret, of `id.timestamp.body`). A delivery is sent at least once: any
   * answer but 2xx, or none in time, is retried with exponential backoff and
   * jitter until the server's --webhook-retry-window has passed, when it fails
   * for good. A receiver tells retries apart by the webhook-id header, which
   * stays the same for every attempt of one delivery.
   * Only http and https URLs are accepted, and a URL whose host resolves to a
   * loopback, private, link-local, multicast or unspecified address is refused
   * (INVALID_ARGUMENT with reason WEBHOOK_URL_NOT_ALLOWED), unless the operator
   * allowed it with --webhook-allow; the address is checked again at every
   * attempt, and redirects are not followed. A run can also name a URL of its
   * own (CreateRunRequest.webhook_url). Webhooks belong to the caller's tenant;
   * managing them needs a key of scope write, reading them scope read. Every
   * call answers INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest
   * naming each bad field when the request is malformed, NOT_FOUND with reason
   * WEBHOOK_NOT_FOUND for an unknown webhook, and writes nothing when it fails.
   * </pre>
   */
  public static final class WebhookServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<WebhookServiceBlockingV2Stub> {
    private WebhookServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected WebhookServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new WebhookServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Makes a webhook and returns it, with its secret: the only reply that
     * carries the secret, which the server makes when the request gives none.
     * A tenant has at most 100 webhooks made this way: one more is
     * FAILED_PRECONDITION with reason TOO_MANY_WEBHOOKS.
     * </pre>
     */
    public dev.threadline.v1.Webhook createWebhook(dev.threadline.v1.CreateWebhookRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCreateWebhookMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns one webhook, without its secret.
     * </pre>
     */
    public dev.threadline.v1.Webhook getWebhook(dev.threadline.v1.GetWebhookRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetWebhookMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists the tenant's webhooks made by CreateWebhook (not the runs' own),
     * newest first, without their secrets.
     * </pre>
     */
    public dev.threadline.v1.ListWebhooksResponse listWebhooks(dev.threadline.v1.ListWebhooksRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListWebhooksMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Deletes a webhook and its deliveries, sent or not: nothing more is sent
     * to it.
     * </pre>
     */
    public com.google.protobuf.Empty deleteWebhook(dev.threadline.v1.DeleteWebhookRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getDeleteWebhookMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists deliveries, newest first: of one webhook, of one run, of both, or
     * of every webhook of the tenant; each with its attempts, their status
     * codes and errors, and when it is tried next.
     * </pre>
     */
    public dev.threadline.v1.ListWebhookDeliveriesResponse listWebhookDeliveries(dev.threadline.v1.ListWebhookDeliveriesRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListWebhookDeliveriesMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service WebhookService.
   * <pre>
   * WebhookService calls a caller's HTTP endpoint back when runs end or wait.
   * A webhook is a URL, the event types it wants, and a secret. When a run
   * event of one of those types is written (run.completed,
   * run.max_iterations_reached, run.failed, run.cancelled, and
   * run.requires_action when a run waits for its caller), a delivery is
   * written in the same transaction, so a crash loses none, and the server then
   * POSTs the event to the URL as JSON, signed as the Standard Webhooks
   * specification lays out (headers webhook-id, webhook-timestamp and
   * webhook-signature: `v1,` and the base64 HMAC-SHA256, keyed with the
   * secret, of `id.timestamp.body`). A delivery is sent at least once: any
   * answer but 2xx, or none in time, is retried with exponential backoff and
   * jitter until the server's --webhook-retry-window has passed, when it fails
   * for good. A receiver tells retries apart by the webhook-id header, which
   * stays the same for every attempt of one delivery.
   * Only http and https URLs are accepted, and a URL whose host resolves to a
   * loopback, private, link-local, multicast or unspecified address is refused
   * (INVALID_ARGUMENT with reason WEBHOOK_URL_NOT_ALLOWED), unless the operator
   * allowed it with --webhook-allow; the address is checked again at every
   * attempt, and redirects are not followed. A run can also name a URL of its
   * own (CreateRunRequest.webhook_url). Webhooks belong to the caller's tenant;
   * managing them needs a key of scope write, reading them scope read. Every
   * call answers INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest
   * naming each bad field when the request is malformed, NOT_FOUND with reason
   * WEBHOOK_NOT_FOUND for an unknown webhook, and writes nothing when it fails.
   * </pre>
   */
  public static final class WebhookServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<WebhookServiceBlockingStub> {
    private WebhookServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected WebhookServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new WebhookServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Makes a webhook and returns it, with its secret: the only reply that
     * carries the secret, which the server makes when the request gives none.
     * A tenant has at most 100 webhooks made this way: one more is
     * FAILED_PRECONDITION with reason TOO_MANY_WEBHOOKS.
     * </pre>
     */
    public dev.threadline.v1.Webhook createWebhook(dev.threadline.v1.CreateWebhookRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCreateWebhookMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns one webhook, without its secret.
     * </pre>
     */
    public dev.threadline.v1.Webhook getWebhook(dev.threadline.v1.GetWebhookRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetWebhookMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists the tenant's webhooks made by CreateWebhook (not the runs' own),
     * newest first, without their secrets.
     * </pre>
     */
    public dev.threadline.v1.ListWebhooksResponse listWebhooks(dev.threadline.v1.ListWebhooksRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListWebhooksMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Deletes a webhook and its deliveries, sent or not: nothing more is sent
     * to it.
     * </pre>
     */
    public com.google.protobuf.Empty deleteWebhook(dev.threadline.v1.DeleteWebhookRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getDeleteWebhookMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists deliveries, newest first: of one webhook, of one run, of both, or
     * of every webhook of the tenant; each with its attempts, their status
     * codes and errors, and when it is tried next.
     * </pre>
     */
    public dev.threadline.v1.ListWebhookDeliveriesResponse listWebhookDeliveries(dev.threadline.v1.ListWebhookDeliveriesRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListWebhookDeliveriesMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service WebhookService.
   * <pre>
   * WebhookService calls a caller's HTTP endpoint back when runs end or wait.
   * A webhook is a URL, the event types it wants, and a secret. When a run
   * event of one of those types is written (run.completed,
   * run.max_iterations_reached, run.failed, run.cancelled, and
   * run.requires_action when a run waits for its caller), a delivery is
   * written in the same transaction, so a crash loses none, and the server then
   * POSTs the event to the URL as JSON, signed as the Standard Webhooks
   * specification lays out (headers webhook-id, webhook-timestamp and
   * webhook-signature: `v1,` and the base64 HMAC-SHA256, keyed with the
   * secret, of `id.timestamp.body`). A delivery is sent at least once: any
   * answer but 2xx, or none in time, is retried with exponential backoff and
   * jitter until the server's --webhook-retry-window has passed, when it fails
   * for good. A receiver tells retries apart by the webhook-id header, which
   * stays the same for every attempt of one delivery.
   * Only http and https URLs are accepted, and a URL whose host resolves to a
   * loopback, private, link-local, multicast or unspecified address is refused
   * (INVALID_ARGUMENT with reason WEBHOOK_URL_NOT_ALLOWED), unless the operator
   * allowed it with --webhook-allow; the address is checked again at every
   * attempt, and redirects are not followed. A run can also name a URL of its
   * own (CreateRunRequest.webhook_url). Webhooks belong to the caller's tenant;
   * managing them needs a key of scope write, reading them scope read. Every
   * call answers INVALID_ARGUMENT with reason VALIDATION_ERROR and a BadRequest
   * naming each bad field when the request is malformed, NOT_FOUND with reason
   * WEBHOOK_NOT_FOUND for an unknown webhook, and writes nothing when it fails.
   * </pre>
   */
  public static final class WebhookServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<WebhookServiceFutureStub> {
    private WebhookServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected WebhookServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new WebhookServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Makes a webhook and returns it, with its secret: the only reply that
     * carries the secret, which the server makes when the request gives none.
     * A tenant has at most 100 webhooks made this way: one more is
     * FAILED_PRECONDITION with reason TOO_MANY_WEBHOOKS.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.Webhook> createWebhook(
        dev.threadline.v1.CreateWebhookRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCreateWebhookMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Returns one webhook, without its secret.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.Webhook> getWebhook(
        dev.threadline.v1.GetWebhookRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetWebhookMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Lists the tenant's webhooks made by CreateWebhook (not the runs' own),
     * newest first, without their secrets.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.ListWebhooksResponse> listWebhooks(
        dev.threadline.v1.ListWebhooksRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListWebhooksMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Deletes a webhook and its deliveries, sent or not: nothing more is sent
     * to it.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<com.google.protobuf.Empty> deleteWebhook(
        dev.threadline.v1.DeleteWebhookRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getDeleteWebhookMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Lists deliveries, newest first: of one webhook, of one run, of both, or
     * of every webhook of the tenant; each with its attempts, their status
     * codes and errors, and when it is tried next.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.ListWebhookDeliveriesResponse> listWebhookDeliveries(
        dev.threadline.v1.ListWebhookDeliveriesRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListWebhookDeliveriesMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_CREATE_WEBHOOK = 0;
  private static final int METHODID_GET_WEBHOOK = 1;
  private static final int METHODID_LIST_WEBHOOKS = 2;
  private static final int METHODID_DELETE_WEBHOOK = 3;
  private static final int METHODID_LIST_WEBHOOK_DELIVERIES = 4;

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
        case METHODID_CREATE_WEBHOOK:
          serviceImpl.createWebhook((dev.threadline.v1.CreateWebhookRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.Webhook>) responseObserver);
          break;
        case METHODID_GET_WEBHOOK:
          serviceImpl.getWebhook((dev.threadline.v1.GetWebhookRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.Webhook>) responseObserver);
          break;
        case METHODID_LIST_WEBHOOKS:
          serviceImpl.listWebhooks((dev.threadline.v1.ListWebhooksRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.ListWebhooksResponse>) responseObserver);
          break;
        case METHODID_DELETE_WEBHOOK:
          serviceImpl.deleteWebhook((dev.threadline.v1.DeleteWebhookRequest) request,
              (io.grpc.stub.StreamObserver<com.google.protobuf.Empty>) responseObserver);
          break;
        case METHODID_LIST_WEBHOOK_DELIVERIES:
          serviceImpl.listWebhookDeliveries((dev.threadline.v1.ListWebhookDeliveriesRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.ListWebhookDeliveriesResponse>) responseObserver);
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
          getCreateWebhookMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.CreateWebhookRequest,
              dev.threadline.v1.Webhook>(
                service, METHODID_CREATE_WEBHOOK)))
        .addMethod(
          getGetWebhookMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.GetWebhookRequest,
              dev.threadline.v1.Webhook>(
                service, METHODID_GET_WEBHOOK)))
        .addMethod(
          getListWebhooksMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.ListWebhooksRequest,
              dev.threadline.v1.ListWebhooksResponse>(
                service, METHODID_LIST_WEBHOOKS)))
        .addMethod(
          getDeleteWebhookMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.DeleteWebhookRequest,
              com.google.protobuf.Empty>(
                service, METHODID_DELETE_WEBHOOK)))
        .addMethod(
          getListWebhookDeliveriesMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.ListWebhookDeliveriesRequest,
              dev.threadline.v1.ListWebhookDeliveriesResponse>(
                service, METHODID_LIST_WEBHOOK_DELIVERIES)))
        .build();
  }

  private static abstract class WebhookServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    WebhookServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.threadline.v1.WebhookProto.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("WebhookService");
    }
  }

  private static final class WebhookServiceFileDescriptorSupplier
      extends WebhookServiceBaseDescriptorSupplier {
    WebhookServiceFileDescriptorSupplier() {}
  }

  private static final class WebhookServiceMethodDescriptorSupplier
      extends WebhookServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    WebhookServiceMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (WebhookServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new WebhookServiceFileDescriptorSupplier())
              .addMethod(getCreateWebhookMethod())
              .addMethod(getGetWebhookMethod())
              .addMethod(getListWebhooksMethod())
              .addMethod(getDeleteWebhookMethod())
              .addMethod(getListWebhookDeliveriesMethod())
              .build();
        }
      }
    }
    return result;
  }
}
