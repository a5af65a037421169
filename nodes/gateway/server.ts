/**
 * The gRPC gateway: GatewayService over the actor system, plus the standard health service
 * (grpc.health.v1) and server reflection. Errors leave as gRPC statuses with the biopay code in
 * trailing metadata (core/grpc/errors.ts); undecodable requests get MALFORMED_MESSAGE.
 */
import {
  Server, ServerCredentials, type handleUnaryCall, type sendUnaryData, type ServerUnaryCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { GatewayServiceService } from '../../proto/gen/biopay/v1/gateway.js';
import type { ActorSystem } from '../../core/actors/index.js';
import { asBiopayError, BiopayError, ErrorCode } from '../../core/errors.js';
import { toGrpcStatus } from '../../core/grpc/index.js';
import { createLogger, type Logger } from '../../core/log.js';
import { gatewayHandlers, type CallContext, type GatewayHandlers } from './handlers.js';
import { gatewayReflection } from './reflection.js';
import { MalformedRequest, tolerantService } from './tolerant-service.js';

export interface GatewayOptions {
  readonly system: ActorSystem;
  /** 127.0.0.1 when omitted; 0.0.0.0 to serve every interface. */
  readonly host?: string;
  /** 50051 when omitted; 0 picks a free port. */
  readonly port?: number;
  /** Time one call may take when the client set no shorter deadline. */
  readonly callTimeoutMs?: number;
  /** Time stop() waits for calls in flight before cancelling them. */
  readonly shutdownTimeoutMs?: number;
  readonly log?: Logger;
}

export interface Gateway {
  readonly port: number;
  stop(): Promise<void>;
}

export const GATEWAY_SERVICE_NAME = 'biopay.v1.GatewayService';
const DEFAULT_PORT = 50051;
const DEFAULT_CALL_TIMEOUT_MS = 30_000;
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5_000;
/** Templates are a few KiB; nothing the gateway accepts comes near this. */
const MESSAGE_BYTES_MAX = 1024 * 1024;
const CONCURRENT_STREAMS_MAX = 1_000;

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const log = options.log ?? createLogger({ fields: { role: 'gateway' } });
  const server = new Server({
    'grpc.max_receive_message_length': MESSAGE_BYTES_MAX,
    'grpc.max_send_message_length': MESSAGE_BYTES_MAX,
    'grpc.max_concurrent_streams': CONCURRENT_STREAMS_MAX,
  });
  const handlers = gatewayHandlers(options.system);
  server.addService(tolerantService(GatewayServiceService), grpcImplementation(handlers, options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS, log));
  const health = new HealthImplementation({ '': 'SERVING', [GATEWAY_SERVICE_NAME]: 'SERVING' });
  health.addToServer(server);
  gatewayReflection().addToServer(server);
  const port = await bind(server, options.host ?? '127.0.0.1', options.port ?? DEFAULT_PORT);
  log.info('gateway listening', { port });
  let stopped: Promise<void> | undefined;
  return {
    port,
    stop: () => (stopped ??= shutdown(server, health, options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS)),
  };
}

function bind(server: Server, host: string, port: number): Promise<number> {
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    return Promise.reject(new BiopayError(ErrorCode.BadRequest, `gRPC port must be 0..65535, got ${port}`));
  }
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (error, boundPort) => {
      if (error) reject(new BiopayError(ErrorCode.Unavailable, `cannot listen on ${address}: ${error.message}`, { cause: error }));
      else resolve(boundPort);
    });
  });
}

/** Health says NOT_SERVING first (balancers stop sending), then calls in flight get time to finish. */
async function shutdown(server: Server, health: HealthImplementation, timeoutMs: number): Promise<void> {
  health.setStatus('', 'NOT_SERVING');
  health.setStatus(GATEWAY_SERVICE_NAME, 'NOT_SERVING');
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, timeoutMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function grpcImplementation(handlers: GatewayHandlers, callTimeoutMs: number, log: Logger): UntypedServiceImplementation {
  const implementation: UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(handlers) as [string, (request: never, context: CallContext) => Promise<unknown>][]) {
    implementation[name] = unary(name, handler, callTimeoutMs, log);
  }
  return implementation;
}

function unary(
  name: string, handler: (request: never, context: CallContext) => Promise<unknown>, callTimeoutMs: number, log: Logger,
): handleUnaryCall<unknown, unknown> {
  return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
    const request = call.request;
    if (request instanceof MalformedRequest) {
      callback(toGrpcStatus(request.error));
      return;
    }
    const context = { timeoutMs: timeoutFor(call, callTimeoutMs) };
    Promise.resolve()
      .then(() => handler(request as never, context))
      .then(
        (response) => callback(null, response),
        (error: unknown) => {
          const failure = asBiopayError(error);
          // Only unexpected failures are logged, by code and method: never a request's contents.
          if (failure.code === ErrorCode.Internal) log.error('gateway call failed', { method: name, error: failure.message });
          callback(toGrpcStatus(failure));
        },
      );
  };
}

/** The client's deadline, capped by the gateway's own limit; at least 1 ms (the ask then times out). */
function timeoutFor(call: ServerUnaryCall<unknown, unknown>, callTimeoutMs: number): number {
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(deadlineMs)) return callTimeoutMs;
  return Math.max(1, Math.min(callTimeoutMs, Math.floor(deadlineMs - Date.now())));
}
