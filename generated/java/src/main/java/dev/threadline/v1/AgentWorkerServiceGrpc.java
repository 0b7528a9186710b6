package dev.threadline.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * AgentWorkerService lets agents written in any language serve runs. A worker
 * process claims the next queued run of its agent with a lease, reports what
 * the agent does as WorkerEvents, and renews the lease while it works; every
 * answer tells it whether the run was cancelled. When a worker stops renewing,
 * its lease runs out and the run fails with error LEASE_EXPIRED, so no run
 * stays RUNNING for ever.
 * Calls with a lease that is not the run's current one answer
 * FAILED_PRECONDITION with reason LEASE_LOST (the lease expired, or the run
 * ended or was cancelled); the worker should drop the run. What a worker
 * reports is held to the limits clients are: a message is at most 1 MiB (so
 * the text of one answer is too), a run makes at most 1000 tool calls; a
 * report that would break one is INVALID_ARGUMENT naming the event, and
 * writes nothing.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class AgentWorkerServiceGrpc {

  private AgentWorkerServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "threadline.v1.AgentWorkerService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.ClaimRunRequest,
      dev.threadline.v1.ClaimRunResponse> getClaimRunMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ClaimRun",
      requestType = dev.threadline.v1.ClaimRunRequest.class,
      responseType = dev.threadline.v1.ClaimRunResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.ClaimRunRequest,
      dev.threadline.v1.ClaimRunResponse> getClaimRunMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.ClaimRunRequest, dev.threadline.v1.ClaimRunResponse> getClaimRunMethod;
    if ((getClaimRunMethod = AgentWorkerServiceGrpc.getClaimRunMethod) == null) {
      synchronized (AgentWorkerServiceGrpc.class) {
        if ((getClaimRunMethod = AgentWorkerServiceGrpc.getClaimRunMethod) == null) {
          AgentWorkerServiceGrpc.getClaimRunMethod = getClaimRunMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.ClaimRunRequest, dev.threadline.v1.ClaimRunResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ClaimRun"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ClaimRunRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ClaimRunResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AgentWorkerServiceMethodDescriptorSupplier("ClaimRun"))
              .build();
        }
      }
    }
    return getClaimRunMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.ReportRunEventsRequest,
      dev.threadline.v1.ReportRunEventsResponse> getReportRunEventsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ReportRunEvents",
      requestType = dev.threadline.v1.ReportRunEventsRequest.class,
      responseType = dev.threadline.v1.ReportRunEventsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.ReportRunEventsRequest,
      dev.threadline.v1.ReportRunEventsResponse> getReportRunEventsMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.ReportRunEventsRequest, dev.threadline.v1.ReportRunEventsResponse> getReportRunEventsMethod;
    if ((getReportRunEventsMethod = AgentWorkerServiceGrpc.getReportRunEventsMethod) == null) {
      synchronized (AgentWorkerServiceGrpc.class) {
        if ((getReportRunEventsMethod = AgentWorkerServiceGrpc.getReportRunEventsMethod) == null) {
          AgentWorkerServiceGrpc.getReportRunEventsMethod = getReportRunEventsMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.ReportRunEventsRequest, dev.threadline.v1.ReportRunEventsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ReportRunEvents"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ReportRunEventsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.ReportRunEventsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AgentWorkerServiceMethodDescriptorSupplier("ReportRunEvents"))
              .build();
        }
      }
    }
    return getReportRunEventsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.threadline.v1.RenewLeaseRequest,
      dev.threadline.v1.RenewLeaseResponse> getRenewLeaseMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "RenewLease",
      requestType = dev.threadline.v1.RenewLeaseRequest.class,
      responseType = dev.threadline.v1.RenewLeaseResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.threadline.v1.RenewLeaseRequest,
      dev.threadline.v1.RenewLeaseResponse> getRenewLeaseMethod() {
    io.grpc.MethodDescriptor<dev.threadline.v1.RenewLeaseRequest, dev.threadline.v1.RenewLeaseResponse> getRenewLeaseMethod;
    if ((getRenewLeaseMethod = AgentWorkerServiceGrpc.getRenewLeaseMethod) == null) {
      synchronized (AgentWorkerServiceGrpc.class) {
        if ((getRenewLeaseMethod = AgentWorkerServiceGrpc.getRenewLeaseMethod) == null) {
          AgentWorkerServiceGrpc.getRenewLeaseMethod = getRenewLeaseMethod =
              io.grpc.MethodDescriptor.<dev.threadline.v1.RenewLeaseRequest, dev.threadline.v1.RenewLeaseResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "RenewLease"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.RenewLeaseRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.threadline.v1.RenewLeaseResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AgentWorkerServiceMethodDescriptorSupplier("RenewLease"))
              .build();
        }
      }
    }
    return getRenewLeaseMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static AgentWorkerServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<AgentWorkerServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<AgentWorkerServiceStub>() {
        @java.lang.Override
        public AgentWorkerServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new AgentWorkerServiceStub(channel, callOptions);
        }
      };
    return AgentWorkerServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static AgentWorkerServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<AgentWorkerServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<AgentWorkerServiceBlockingV2Stub>() {
        @java.lang.Override
        public AgentWorkerServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new AgentWorkerServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return AgentWorkerServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static AgentWorkerServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<AgentWorkerServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<AgentWorkerServiceBlockingStub>() {
        @java.lang.Override
        public AgentWorkerServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new AgentWorkerServiceBlockingStub(channel, callOptions);
        }
      };
    return AgentWorkerServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static AgentWorkerServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<AgentWorkerServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<AgentWorkerServiceFutureStub>() {
        @java.lang.Override
        public AgentWorkerServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new AgentWorkerServiceFutureStub(channel, callOptions);
        }
      };
    return AgentWorkerServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * AgentWorkerService lets agents written in any language serve runs. A worker
   * process claims the next queued run of its agent with a lease, reports what
   * the agent does as WorkerEvents, and renews the lease while it works; every
   * answer tells it whether the run was cancelled. When a worker stops renewing,
   * its lease runs out and the run fails with error LEASE_EXPIRED, so no run
   * stays RUNNING for ever.
   * Calls with a lease that is not the run's current one answer
   * FAILED_PRECONDITION with reason LEASE_LOST (the lease expired, or the run
   * ended or was cancelled); the worker should drop the run. What a worker
   * reports is held to the limits clients are: a message is at most 1 MiB (so
   * the text of one answer is too), a run makes at most 1000 tool calls; a
   * report that would break one is INVALID_ARGUMENT naming the event, and
   * writes nothing.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Claims the oldest queued run of an agent whose runs are served by workers.
     * Waits up to `wait` for one to arrive; returns no run when none did.
     * </pre>
     */
    default void claimRun(dev.threadline.v1.ClaimRunRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ClaimRunResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getClaimRunMethod(), responseObserver);
    }

    /**
     * <pre>
     * Records what the agent did, in order, and renews the lease. A `finish`
     * event ends the run; nothing may follow it.
     * </pre>
     */
    default void reportRunEvents(dev.threadline.v1.ReportRunEventsRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ReportRunEventsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getReportRunEventsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Extends the lease of a claimed run, and says whether it was cancelled.
     * </pre>
     */
    default void renewLease(dev.threadline.v1.RenewLeaseRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.RenewLeaseResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getRenewLeaseMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service AgentWorkerService.
   * <pre>
   * AgentWorkerService lets agents written in any language serve runs. A worker
   * process claims the next queued run of its agent with a lease, reports what
   * the agent does as WorkerEvents, and renews the lease while it works; every
   * answer tells it whether the run was cancelled. When a worker stops renewing,
   * its lease runs out and the run fails with error LEASE_EXPIRED, so no run
   * stays RUNNING for ever.
   * Calls with a lease that is not the run's current one answer
   * FAILED_PRECONDITION with reason LEASE_LOST (the lease expired, or the run
   * ended or was cancelled); the worker should drop the run. What a worker
   * reports is held to the limits clients are: a message is at most 1 MiB (so
   * the text of one answer is too), a run makes at most 1000 tool calls; a
   * report that would break one is INVALID_ARGUMENT naming the event, and
   * writes nothing.
   * </pre>
   */
  public static abstract class AgentWorkerServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return AgentWorkerServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service AgentWorkerService.
   * <pre>
   * AgentWorkerService lets agents written in any language serve runs. A worker
   * process claims the next queued run of its agent with a lease, reports what
   * the agent does as WorkerEvents, and renews the lease while it works; every
   * answer tells it whether the run was cancelled. When a worker stops renewing,
   * its lease runs out and the run fails with error LEASE_EXPIRED, so no run
   * stays RUNNING for ever.
   * Calls with a lease that is not the run's current one answer
   * FAILED_PRECONDITION with reason LEASE_LOST (the lease expired, or the run
   * ended or was cancelled); the worker should drop the run. What a worker
   * reports is held to the limits clients are: a message is at most 1 MiB (so
   * the text of one answer is too), a run makes at most 1000 tool calls; a
   * report that would break one is INVALID_ARGUMENT naming the event, and
   * writes nothing.
   * </pre>
   */
  public static final class AgentWorkerServiceStub
      extends io.grpc.stub.AbstractAsyncStub<AgentWorkerServiceStub> {
    private AgentWorkerServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected AgentWorkerServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new AgentWorkerServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Claims the oldest queued run of an agent whose runs are served by workers.
     * Waits up to `wait` for one to arrive; returns no run when none did.
     * </pre>
     */
    public void claimRun(dev.threadline.v1.ClaimRunRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ClaimRunResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getClaimRunMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Records what the agent did, in order, and renews the lease. A `finish`
     * event ends the run; nothing may follow it.
     * </pre>
     */
    public void reportRunEvents(dev.threadline.v1.ReportRunEventsRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.ReportRunEventsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getReportRunEventsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Extends the lease of a claimed run, and says whether it was cancelled.
     * </pre>
     */
    public void renewLease(dev.threadline.v1.RenewLeaseRequest request,
        io.grpc.stub.StreamObserver<dev.threadline.v1.RenewLeaseResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getRenewLeaseMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service AgentWorkerService.
   * <pre>
   * AgentWorkerService lets agents written in any language serve runs. A worker
   * process claims the next queued run of its agent with a lease, reports what
   * the agent does as WorkerEvents, and renews the lease while it works; every
   * answer tells it whether the run was cancelled. When a worker stops renewing,
   * its lease runs out and the run fails with error LEASE_EXPIRED, so no run
   * stays RUNNING for ever.
   * Calls with a lease that is not the run's current one answer
   * FAILED_PRECONDITION with reason LEASE_LOST (the lease expired, or the run
   * ended or was cancelled); the worker should drop the run. What a worker
   * reports is held to the limits clients are: a message is at most 1 MiB (so
   * the text of one answer is too), a run makes at most 1000 tool calls; a
   * report that would break one is INVALID_ARGUMENT naming the event, and
   * writes nothing.
   * </pre>
   */
  public static final class AgentWorkerServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<AgentWorkerServiceBlockingV2Stub> {
    private AgentWorkerServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected AgentWorkerServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new AgentWorkerServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Claims the oldest queued run of an agent whose runs are served by workers.
     * Waits up to `wait` for one to arrive; returns no run when none did.
     * </pre>
     */
    public dev.threadline.v1.ClaimRunResponse claimRun(dev.threadline.v1.ClaimRunRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getClaimRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Records what the agent did, in order, and renews the lease. A `finish`
     * event ends the run; nothing may follow it.
     * </pre>
     */
    public dev.threadline.v1.ReportRunEventsResponse reportRunEvents(dev.threadline.v1.ReportRunEventsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getReportRunEventsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Extends the lease of a claimed run, and says whether it was cancelled.
     * </pre>
     */
    public dev.threadline.v1.RenewLeaseResponse renewLease(dev.threadline.v1.RenewLeaseRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getRenewLeaseMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service AgentWorkerService.
   * <pre>
   * AgentWorkerService lets agents written in any language serve runs. A worker
   * process claims the next queued run of its agent with a lease, reports what
   * the agent does as WorkerEvents, and renews the lease while it works; every
   * answer tells it whether the run was cancelled. When a worker stops renewing,
   * its lease runs out and the run fails with error LEASE_EXPIRED, so no run
   * stays RUNNING for ever.
   * Calls with a lease that is not the run's current one answer
   * FAILED_PRECONDITION with reason LEASE_LOST (the lease expired, or the run
   * ended or was cancelled); the worker should drop the run. What a worker
   * reports is held to the limits clients are: a message is at most 1 MiB (so
   * the text of one answer is too), a run makes at most 1000 tool calls; a
   * report that would break one is INVALID_ARGUMENT naming the event, and
   * writes nothing.
   * </pre>
   */
  public static final class AgentWorkerServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<AgentWorkerServiceBlockingStub> {
    private AgentWorkerServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected AgentWorkerServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new AgentWorkerServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Claims the oldest queued run of an agent whose runs are served by workers.
     * Waits up to `wait` for one to arrive; returns no run when none did.
     * </pre>
     */
    public dev.threadline.v1.ClaimRunResponse claimRun(dev.threadline.v1.ClaimRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getClaimRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Records what the agent did, in order, and renews the lease. A `finish`
     * event ends the run; nothing may follow it.
     * </pre>
     */
    public dev.threadline.v1.ReportRunEventsResponse reportRunEvents(dev.threadline.v1.ReportRunEventsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getReportRunEventsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Extends the lease of a claimed run, and says whether it was cancelled.
     * </pre>
     */
    public dev.threadline.v1.RenewLeaseResponse renewLease(dev.threadline.v1.RenewLeaseRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getRenewLeaseMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service AgentWorkerService.
   * <pre>
   * AgentWorkerService lets agents written in any language serve runs. A worker
   * process claims the next queued run of its agent with a lease, reports what
   * the agent does as WorkerEvents, and renews the lease while it works; every
   * answer tells it whether the run was cancelled. When a worker stops renewing,
   * its lease runs out and the run fails with error LEASE_EXPIRED, so no run
   * stays RUNNING for ever.
   * Calls with a lease that is not the run's current one answer
   * FAILED_PRECONDITION with reason LEASE_LOST (the lease expired, or the run
   * ended or was cancelled); the worker should drop the run. What a worker
   * reports is held to the limits clients are: a message is at most 1 MiB (so
   * the text of one answer is too), a run makes at most 1000 tool calls; a
   * report that would break one is INVALID_ARGUMENT naming the event, and
   * writes nothing.
   * </pre>
   */
  public static final class AgentWorkerServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<AgentWorkerServiceFutureStub> {
    private AgentWorkerServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected AgentWorkerServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new AgentWorkerServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Claims the oldest queued run of an agent whose runs are served by workers.
     * Waits up to `wait` for one to arrive; returns no run when none did.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.ClaimRunResponse> claimRun(
        dev.threadline.v1.ClaimRunRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getClaimRunMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Records what the agent did, in order, and renews the lease. A `finish`
     * event ends the run; nothing may follow it.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.ReportRunEventsResponse> reportRunEvents(
        dev.threadline.v1.ReportRunEventsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getReportRunEventsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Extends the lease of a claimed run, and says whether it was cancelled.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.threadline.v1.RenewLeaseResponse> renewLease(
        dev.threadline.v1.RenewLeaseRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getRenewLeaseMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_CLAIM_RUN = 0;
  private static final int METHODID_REPORT_RUN_EVENTS = 1;
  private static final int METHODID_RENEW_LEASE = 2;

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
        case METHODID_CLAIM_RUN:
          serviceImpl.claimRun((dev.threadline.v1.ClaimRunRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.ClaimRunResponse>) responseObserver);
          break;
        case METHODID_REPORT_RUN_EVENTS:
          serviceImpl.reportRunEvents((dev.threadline.v1.ReportRunEventsRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.ReportRunEventsResponse>) responseObserver);
          break;
        case METHODID_RENEW_LEASE:
          serviceImpl.renewLease((dev.threadline.v1.RenewLeaseRequest) request,
              (io.grpc.stub.StreamObserver<dev.threadline.v1.RenewLeaseResponse>) responseObserver);
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
          getClaimRunMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.ClaimRunRequest,
              dev.threadline.v1.ClaimRunResponse>(
                service, METHODID_CLAIM_RUN)))
        .addMethod(
          getReportRunEventsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.ReportRunEventsRequest,
              dev.threadline.v1.ReportRunEventsResponse>(
                service, METHODID_REPORT_RUN_EVENTS)))
        .addMethod(
          getRenewLeaseMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.threadline.v1.RenewLeaseRequest,
              dev.threadline.v1.RenewLeaseResponse>(
                service, METHODID_RENEW_LEASE)))
        .build();
  }

  private static abstract class AgentWorkerServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    AgentWorkerServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.threadline.v1.WorkerProto.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("AgentWorkerService");
    }
  }

  private static final class AgentWorkerServiceFileDescriptorSupplier
      extends AgentWorkerServiceBaseDescriptorSupplier {
    AgentWorkerServiceFileDescriptorSupplier() {}
  }

  private static final class AgentWorkerServiceMethodDescriptorSupplier
      extends AgentWorkerServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    AgentWorkerServiceMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (AgentWorkerServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new AgentWorkerServiceFileDescriptorSupplier())
              .addMethod(getClaimRunMethod())
              .addMethod(getReportRunEventsMethod())
              .addMethod(getRenewLeaseMethod())
              .build();
        }
      }
    }
    return result;
  }
}
