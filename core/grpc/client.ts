/**
 * A promise client of the gateway: one method per GatewayService rpc, each taking the request message
 * and resolving to the response, or rejecting with the BiopayError the server sent.
 */
import { credentials, Client, Metadata, type ServiceError } from '@grpc/grpc-js';
import { GatewayServiceService } from '../../proto/gen/biopay/v1/gateway.js';
import { BiopayError, ErrorCode } from '../errors.js';
import { fromServiceError } from './errors.js';

export interface GatewayCallOptions {
  /** Deadline of the call; DEFAULT_CALL_TIMEOUT_MS when omitted. */
  readonly timeoutMs?: number;
}

type UnaryMethod<D> = D extends {
  requestSerialize: (value: infer Request) => Buffer;
  responseDeserialize: (value: Buffer) => infer Response;
} ? (request: Request, options?: GatewayCallOptions) => Promise<Response> : never;

export type GatewayMethods = { [K in keyof typeof GatewayServiceService]: UnaryMethod<(typeof GatewayServiceService)[K]> };

export interface GatewayClient extends GatewayMethods {
  /** The channel is closed; calls in flight fail. */
  close(): void;
}

export const DEFAULT_CALL_TIMEOUT_MS = 10_000;
const CALL_TIMEOUT_MAX_MS = 600_000;
const ADDRESS_PATTERN = /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/;

/** `host:port` without TLS (the gateway serves plaintext; put TLS in front of it). */
export function createGatewayClient(address: string): GatewayClient {
  if (!ADDRESS_PATTERN.test(address)) {
    throw new BiopayError(ErrorCode.BadRequest, `gateway address must be host:port, got "${address.slice(0, 100)}"`);
  }
  const client = new Client(address, credentials.createInsecure());
  const methods = Object.fromEntries(
    Object.entries(GatewayServiceService).map(([name, definition]) => [name, unary(client, definition)]),
  ) as unknown as GatewayMethods;
  return { ...methods, close: () => client.close() };
}

interface UnaryDefinition {
  readonly path: string;
  requestSerialize(value: never): Buffer;
  responseDeserialize(value: Buffer): unknown;
}

function unary(client: Client, definition: UnaryDefinition) {
  return (request: unknown, options: GatewayCallOptions = {}): Promise<unknown> => {
    const timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > CALL_TIMEOUT_MAX_MS) {
      return Promise.reject(new BiopayError(ErrorCode.BadRequest, `call timeout must be in 1..${CALL_TIMEOUT_MAX_MS} ms`));
    }
    let bytes: Buffer;
    try {
      bytes = definition.requestSerialize(request as never);
    } catch (error) {
      // Encoding refused the request (e.g. an amount beyond int64): nothing is sent.
      return Promise.reject(new BiopayError(ErrorCode.BadRequest, `request not sent: ${(error as Error).message}`, { cause: error }));
    }
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        definition.path,
        (encoded: Buffer) => encoded,
        (encoded: Buffer) => definition.responseDeserialize(encoded),
        bytes,
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (error: ServiceError | null, response?: unknown) => (error ? reject(fromServiceError(error)) : resolve(response)),
      );
    });
  };
}
