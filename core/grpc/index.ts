/** gRPC plumbing shared by the gateway (server) and the CLI (client). */
export {
  ERROR_CODE_METADATA_KEY, ERROR_DETAIL_METADATA_KEY, fromServiceError, grpcStatusOf, toGrpcStatus,
} from './errors.js';
export {
  createGatewayClient, DEFAULT_CALL_TIMEOUT_MS, type GatewayCallOptions, type GatewayClient, type GatewayMethods,
} from './client.js';
