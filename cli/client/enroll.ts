/** `biopay enroll ACCOUNT --template FILE.iso [policy flags]`: a new credential for an account. */
import { randomUUID } from 'node:crypto';
import { EnrollRequest, Modality } from '../../proto/gen/biopay/v1/biometrics.js';
import { GetAccountRequest } from '../../proto/gen/biopay/v1/ledger.js';
import { clientCommand, requiredFlag, stringFlag } from './command.js';
import { policyJson, policyLines } from './policy-format.js';
import { checkPolicyFlagGrammar, POLICY_HELP, POLICY_OPTIONS, policyFromFlags } from './policy-flags.js';
import { readTemplate } from './template.js';

export const enrollCommand = clientCommand({
  name: 'enroll',
  help: `
Usage: biopay enroll ACCOUNT --template FILE.iso [--credential ID] [policy flags]

Enrolls a finger (an ISO/IEC 19794-2:2005 minutiae record) as a new credential of ACCOUNT.
Without policy flags the credential is unrestricted: its owner's, which pays without limits and
authorizes policy changes. A finger already enrolled anywhere is refused.
${POLICY_HELP}
Example: biopay enroll acc_1 --template child.iso --restricted --quota 30.00/day --count 5/day \\
           --max 10.00 --terminal T1 --window mon-fri@07:00-15:00 --tz Europe/Berlin`,
  options: { template: { type: 'string' }, credential: { type: 'string' }, 'idempotency-key': { type: 'string' }, ...POLICY_OPTIONS },
  positionals: ['ACCOUNT'],
  validate: (values) => {
    requiredFlag(values, 'template');
    checkPolicyFlagGrammar(values, false);
  },
  async run({ values, positionals: [accountId], gateway, timeoutMs }) {
    const isoTemplate = await readTemplate(requiredFlag(values, 'template'), 'template');
    const account = await gateway.getAccount(GetAccountRequest.fromPartial({ accountId }), { timeoutMs });
    const policy = policyFromFlags(values, account.currency);
    const enrolled = await gateway.enroll(EnrollRequest.fromPartial({
      accountId: account.accountId,
      isoTemplate,
      credentialId: stringFlag(values, 'credential') ?? '',
      modality: Modality.MODALITY_FINGERPRINT,
      policy,
      idempotencyKey: stringFlag(values, 'idempotency-key') ?? randomUUID(),
    }), { timeoutMs });
    const credential = { credentialId: enrolled.credentialId, accountId: enrolled.accountId || account.accountId, policy };
    return {
      json: { credential: policyJson(credential, account.currency) },
      lines: [`enrolled credential ${credential.credentialId} for account ${credential.accountId}`, ...policyLines(credential, account.currency)],
    };
  },
});
