/** A credential and its policy for `enroll` and `policy show|set` output. */
import { SpendingPolicy, type Credential } from '../../proto/gen/biopay/v1/ledger.js';
import { describePolicy, policyToFlags } from '../../core/policy/index.js';

/** No policy at all is the proto3 default: unrestricted. */
function policyOf(credential: Credential): SpendingPolicy {
  return credential.policy ?? SpendingPolicy.fromPartial({});
}

export function policyJson(credential: Credential, currency: string): Record<string, unknown> {
  const policy = policyOf(credential);
  return {
    credentialId: credential.credentialId,
    accountId: credential.accountId,
    currency,
    restricted: policy.restricted,
    // The same words as the flags that set it, so a script can feed them back.
    policy: policyToFlags(policy, currency),
    description: describePolicy(policy, currency),
  };
}

export function policyLines(credential: Credential, currency: string): string[] {
  const description = describePolicy(policyOf(credential), currency);
  return [`credential ${credential.credentialId} of account ${credential.accountId}`, ...description.map((line) => `  ${line}`)];
}
