/**
 * Server reflection (grpcurl, grpcui, Postman) needs file descriptors; ts-proto does not emit them, so
 * the .proto files shipped in the package's proto/ folder are parsed once at start with
 * @grpc/proto-loader (a dependency of @grpc/grpc-js and @grpc/reflection).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { BiopayError, ErrorCode } from '../../core/errors.js';

const GATEWAY_PROTO = 'biopay/v1/gateway.proto';
/** From nodes/gateway/ (tsx) or dist/nodes/gateway/ (compiled) up to the package root. */
const PARENT_LEVELS_MAX = 5;

export function findProtoRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (let level = 0; level <= PARENT_LEVELS_MAX; level += 1) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, GATEWAY_PROTO))) return candidate;
    dir = dirname(dir);
  }
  throw new BiopayError(ErrorCode.Internal, `cannot find proto/${GATEWAY_PROTO} above ${from}: reflection needs it`);
}

/** Reflection over the gateway and health services. */
export function gatewayReflection(protoRoot = findProtoRoot()): ReflectionService {
  const definition = loadSync([GATEWAY_PROTO, healthProtoPath], { includeDirs: [protoRoot] });
  return new ReflectionService(definition);
}
