/**
 * Orchestrations over several actor kinds, shared by the gateway and the CLI demo. Pure functions of
 * actor clients: no gRPC, no NATS of their own.
 */
export { flowClients, FlowDeadline, requireId, type FlowClients, type FlowOptions } from './clients.js';
export { deleteEnrollment, enroll } from './enroll.js';
export { resolveCredentialByBiometric, type ResolvedCredential } from './identify.js';
export { getPolicy, setPolicy } from './policy.js';
