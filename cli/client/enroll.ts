/** `biopay enroll ACCOUNT --template FILE.iso [--template MORE.iso ...] [policy flags]`: a new credential for an account. */
import { randomUUID } from 'node:crypto';
import { EnrollRequest, Modality } from '../../proto/gen/biopay/v1/biometrics.js';
import { GetAccountRequest } from '../../proto/gen/biopay/v1/ledger.js';
import { clientCommand, listFlag, stringFlag, UsageError } from './command.js';
import { policyJson, policyLines } from './policy-format.js';
import { checkPolicyFlagGrammar, POLICY_HELP, POLICY_OPTIONS, policyFromFlags } from './policy-flags.js';
import { readTemplate } from './template.js';

export const enrollCommand = clientCommand({
  name: 'enroll',
  help: `
Usage: biopay enroll ACCOUNT --template FILE.iso [--template FILE.iso ...] [--credential ID] [policy flags]

Enrolls a finger (an ISO/IEC 19794-2:2005 minutiae record) as a new credential of ACCOUNT. Give
--template up to 10 times with impressions of the same finger (touch, lift, touch again): the node
keeps the one that agrees best with the others, which later touches match more often, and refuses
impressions that do not agree.
Without policy flags the credential is unrestricted: its owner's, which pays without limits and
authorizes policy changes. A finger already enrolled anywhere is refused.
${POLICY_HELP}
Example: biopay enroll acc_1 --template child.iso --restricted --quota 30.00/day --count 5/day \\
           --max 10.00 --terminal T1 --window mon-fri@07:00-15:00 --tz Europe/Berlin`,
  options: { template: { type: 'string', multiple: true }, credential: { type: 'string' }, 'idempotency-key': { type: 'string' }, ...POLICY_OPTIONS },
  positionals: ['ACCOUNT'],
  validate: (values) => {
    if ((listFlag(values, 'template') ?? []).length === 0) throw new UsageError('--template is required');
    checkPolicyFlagGrammar(values, false);
  },
  async run({ values, positionals: [accountId], gateway, timeoutMs }) {
    const [isoTemplate, ...extraImpressions] = await Promise.all((listFlag(values, 'template') ?? []).map((path) => readTemplate(path, 'template')));
    const account = await gateway.getAccount(GetAccountRequest.fromPartial({ accountId }), { timeoutMs });
    const policy = policyFromFlags(values, account.currency);
    const enrolled = await gateway.enroll(EnrollRequest.fromPartial({
      accountId: account.accountId,
      isoTemplate,
      extraImpressions,
      credentialId: stringFlag(values, 'credential') ?? '',
      modality: Modality.MODALITY_FINGERPRINT,
      policy,
      idempotencyKey: stringFlag(values, 'idempotency-key') ?? randomUUID(),
    }), { timeoutMs });
    const credential = { credentialId: enrolled.credentialId, accountId: enrolled.accountId || account.accountId, policy };
    return {
      json: { credential: policyJson(credential, account.currency), impressions: enrolled.impressions, selectedImpression: enrolled.selectedImpression },
      lines: [
        `enrolled credential ${credential.credentialId} for account ${credential.accountId}`
          + (enrolled.impressions > 1 ? ` (kept impression ${enrolled.selectedImpression + 1} of ${enrolled.impressions})` : ''),
        ...policyLines(credential, account.currency),
      ],
    };
  },
});
