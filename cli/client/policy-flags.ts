/**
 * The spending-policy flags of `biopay enroll` and `biopay policy set` (names fixed by issue 3; the
 * grammar is core/policy/flags.ts). `policy set` changes only the kinds of restriction it is given:
 * the others are kept from the current policy.
 */
import type { ParseArgsConfig } from 'node:util';
import { SpendingPolicy } from '../../proto/gen/biopay/v1/ledger.js';
import { parsePolicyFlags, policyToFlags, type PolicyFlags } from '../../core/policy/index.js';
import { listFlag, stringFlag, usage, UsageError, type FlagValues } from './command.js';

export const POLICY_OPTIONS: NonNullable<ParseArgsConfig['options']> = {
  restricted: { type: 'boolean', default: false },
  quota: { type: 'string', multiple: true },
  count: { type: 'string', multiple: true },
  max: { type: 'string' },
  place: { type: 'string', multiple: true },
  terminal: { type: 'string', multiple: true },
  merchant: { type: 'string', multiple: true },
  window: { type: 'string', multiple: true },
  tz: { type: 'string' },
};

export const POLICY_HELP = `
Spending policy (a restricted credential; every flag but --restricted may be repeated or combined):
  --restricted                 the credential is restricted (without it: unrestricted, the owner's)
  --quota AMOUNT/PERIOD        amount quota per day|week|month|lifetime, e.g. 30.00/day
  --count N/PERIOD             payments per period, e.g. 5/day
  --max AMOUNT                 maximum per payment, e.g. 10.00
  --place LAT,LON,RADIUS_M     allowed circle, e.g. 52.52,13.405,150
  --terminal ID[,ID]           allowed terminals
  --merchant ACCOUNT[,ACCOUNT] allowed merchant accounts
  --window DAYS@HH:MM-HH:MM    allowed weekly window, e.g. mon-fri@07:00-15:00 (may cross midnight)
  --tz ZONE                    IANA time zone of the windows (default the account's), e.g. Europe/Berlin
Amounts are in the account's currency.`;

/**
 * Checks the flags' grammar before any call, with a currency of three decimals (the most any has) so
 * that no valid amount is refused; the account's currency checks the amounts again later.
 */
const GRAMMAR_CURRENCY = 'KWD';

export function checkPolicyFlagGrammar(values: FlagValues, forChange: boolean): void {
  if (forChange) changedPolicy(SpendingPolicy.fromPartial({ restricted: true }), values, GRAMMAR_CURRENCY);
  else policyFromFlags(values, GRAMMAR_CURRENCY);
}

type ListKey = 'quota' | 'count' | 'place' | 'terminal' | 'merchant' | 'window';
const LIST_KEYS: readonly ListKey[] = ['quota', 'count', 'place', 'terminal', 'merchant', 'window'];

/** The policy flags as given on the command line (absent ones left out). */
export function givenPolicyFlags(values: FlagValues): Omit<PolicyFlags, 'restricted'> {
  const flags: Omit<PolicyFlags, 'restricted'> = {};
  for (const key of LIST_KEYS) {
    const list = listFlag(values, key);
    if (list) flags[key] = list;
  }
  const max = stringFlag(values, 'max');
  if (max !== undefined) flags.max = max;
  const tz = stringFlag(values, 'tz');
  if (tz !== undefined) flags.tz = tz;
  return flags;
}

export function hasPolicyFlags(values: FlagValues): boolean {
  return values.restricted === true || Object.keys(givenPolicyFlags(values)).length > 0;
}

/** The policy of a new credential: exactly the flags given. */
export function policyFromFlags(values: FlagValues, currency: string): SpendingPolicy {
  return usage(() => parsePolicyFlags({ ...givenPolicyFlags(values), restricted: values.restricted === true }, currency));
}

/**
 * The policy after `policy set`: --unrestricted drops every restriction; otherwise each kind of
 * restriction given replaces that kind in the current policy, and the rest stays.
 */
export function changedPolicy(current: SpendingPolicy | undefined, values: FlagValues, currency: string): SpendingPolicy {
  if (values.unrestricted === true) {
    if (hasPolicyFlags(values)) throw new UsageError('--unrestricted cannot be combined with --restricted or restrictions');
    return usage(() => parsePolicyFlags({ restricted: false }, currency));
  }
  if (!hasPolicyFlags(values)) throw new UsageError('nothing to change: give restrictions, --restricted or --unrestricted');
  const base: PolicyFlags = current ? policyToFlags(current, currency) : { restricted: false };
  const merged: PolicyFlags = { ...base, ...givenPolicyFlags(values), restricted: base.restricted || values.restricted === true };
  return usage(() => parsePolicyFlags(merged, currency));
}
