/**
 * `biopay policy show|set`: a credential's spending policy, the credential named by its finger
 * (--template) or by --credential ID. A change needs --authorize-with: the finger of an unrestricted
 * credential of the same account, matched by the network.
 */
import { randomUUID } from 'node:crypto';
import { GetAccountRequest, GetPolicyRequest, SetPolicyRequest, type Credential } from '../../proto/gen/biopay/v1/ledger.js';
import type { GatewayClient } from '../../core/grpc/index.js';
import { clientCommand, requiredFlag, stringFlag, UsageError, type FlagValues } from './command.js';
import { policyJson, policyLines } from './policy-format.js';
import { changedPolicy, checkPolicyFlagGrammar, POLICY_HELP, POLICY_OPTIONS } from './policy-flags.js';
import { readTemplate } from './template.js';

const TARGET_OPTIONS = { template: { type: 'string' }, credential: { type: 'string' } } as const;

function checkTarget(values: FlagValues): void {
  const byTemplate = stringFlag(values, 'template') !== undefined;
  const byId = stringFlag(values, 'credential') !== undefined;
  if (byTemplate === byId) throw new UsageError('name the credential with --template FILE.iso or --credential ID (one of them)');
}

async function targetRequest(values: FlagValues): Promise<GetPolicyRequest> {
  const path = stringFlag(values, 'template');
  return path === undefined
    ? GetPolicyRequest.fromPartial({ credentialId: requiredFlag(values, 'credential') })
    : GetPolicyRequest.fromPartial({ isoTemplate: await readTemplate(path, 'template') });
}

async function currencyOf(gateway: GatewayClient, credential: Credential, timeoutMs: number): Promise<string> {
  const account = await gateway.getAccount(GetAccountRequest.fromPartial({ accountId: credential.accountId }), { timeoutMs });
  return account.currency;
}

export const policyShowCommand = clientCommand({
  name: 'policy show',
  help: `
Usage: biopay policy show (--template FILE.iso | --credential ID)

Shows whether the credential is restricted and every restriction it carries.`,
  options: TARGET_OPTIONS,
  validate: checkTarget,
  async run({ values, gateway, timeoutMs }) {
    const credential = await gateway.getPolicy(await targetRequest(values), { timeoutMs });
    const currency = await currencyOf(gateway, credential, timeoutMs);
    return { json: { credential: policyJson(credential, currency) }, lines: policyLines(credential, currency) };
  },
});

export const policySetCommand = clientCommand({
  name: 'policy set',
  help: `
Usage: biopay policy set (--template FILE.iso | --credential ID) [policy flags] [--unrestricted]
                         --authorize-with OWNER.iso

Changes a credential's spending policy. Each kind of restriction given (--quota, --count, --max,
--place, --terminal, --merchant, --window, --tz) replaces that kind; the others are kept.
--unrestricted removes every restriction. The change is authorized by the finger in OWNER.iso,
which must match an unrestricted credential of the same account; the network records who authorized.
${POLICY_HELP}
Example: biopay policy set --template child.iso --quota 20.00/day --authorize-with parent.iso`,
  options: {
    ...TARGET_OPTIONS, ...POLICY_OPTIONS, unrestricted: { type: 'boolean', default: false },
    'authorize-with': { type: 'string' }, 'idempotency-key': { type: 'string' },
  },
  validate: (values) => {
    checkTarget(values);
    requiredFlag(values, 'authorize-with');
    checkPolicyFlagGrammar(values, true);
  },
  async run({ values, gateway, timeoutMs }) {
    const authorizingIsoTemplate = await readTemplate(requiredFlag(values, 'authorize-with'), 'authorize-with');
    const current = await gateway.getPolicy(await targetRequest(values), { timeoutMs });
    const currency = await currencyOf(gateway, current, timeoutMs);
    const policy = changedPolicy(current.policy, values, currency);
    const changed = await gateway.setPolicy(SetPolicyRequest.fromPartial({
      credentialId: current.credentialId, policy, authorizingIsoTemplate,
      idempotencyKey: stringFlag(values, 'idempotency-key') ?? randomUUID(),
    }), { timeoutMs });
    return {
      json: { credential: policyJson(changed, currency) },
      lines: ['policy changed', ...policyLines(changed, currency)],
    };
  },
});
