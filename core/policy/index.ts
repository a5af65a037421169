/**
 * Spending policies as pure logic (no I/O): the ledger checks payments with checkPolicy, computes
 * usage for periodsUsed() from periodStartUnixMs(), and stores only policies validatePolicy accepts.
 */
export type { PolicyCheckInput, PolicyUsage } from './types.js';
export { RefusalCode } from './types.js';
export { checkPolicy } from './check.js';
export { periodStartUnixMs, nextPeriodStartUnixMs, periodsUsed, PERIODS } from './period.js';
export { validatePolicy, isUnrestricted, POLICY_LIMITS } from './validate.js';
export { parsePolicyFlags, policyToFlags, type PolicyFlags } from './flags.js';
export { describePolicy } from './describe.js';
export { distanceM } from './geo.js';
