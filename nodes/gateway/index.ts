/** Gateway role: the gRPC face of a biopay network. */
export { GATEWAY_SERVICE_NAME, startGateway, type Gateway, type GatewayOptions } from './server.js';
export { gatewayHandlers, type CallContext, type GatewayHandlers } from './handlers.js';
