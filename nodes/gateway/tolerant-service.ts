/**
 * Malformed request bytes must get a typed answer, not grpc-js's generic INTERNAL: the generated
 * deserializers are wrapped so that a decode failure becomes a marker value, which the unary handler
 * wrapper turns into INVALID_ARGUMENT with biopay code MALFORMED_MESSAGE.
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import { BiopayError, ErrorCode } from '../../core/errors.js';

/** What a handler receives instead of a request whose bytes did not decode. */
export class MalformedRequest {
  constructor(readonly error: BiopayError) {}
}

export function tolerantService<S extends ServiceDefinition>(service: S): S {
  const wrapped: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(service)) {
    wrapped[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return method.requestDeserialize(bytes);
        } catch (error) {
          return new MalformedRequest(new BiopayError(
            ErrorCode.MalformedMessage, `request of ${method.path} is not a valid protobuf message`, { cause: error },
          ));
        }
      },
    };
  }
  return wrapped as S;
}
