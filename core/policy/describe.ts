/** Human lines for `biopay policy show`. */
import type { SpendingPolicy } from '../../proto/gen/biopay/v1/ledger.js';
import { periodAdjective } from './period.js';
import { moneyText } from './text.js';
import { describeWindow } from './window.js';

function describeLimits(policy: SpendingPolicy, currency: string): string[] {
  const lines: string[] = [];
  if (policy.maxPerPaymentMinor !== 0n) lines.push(`maximum per payment: ${moneyText(policy.maxPerPaymentMinor, currency)}`);
  for (const quota of policy.quotas) lines.push(`${periodAdjective(quota.period)} quota: ${moneyText(quota.amountMinor, currency)}`);
  for (const limit of policy.counts) lines.push(`${periodAdjective(limit.period)} payments: at most ${limit.count}`);
  for (const place of policy.places) {
    lines.push(`place: within ${place.radiusM} m of ${place.center?.latitudeDeg},${place.center?.longitudeDeg}`);
  }
  if (policy.terminalIds.length > 0) lines.push(`terminals: ${policy.terminalIds.join(', ')}`);
  if (policy.merchantIds.length > 0) lines.push(`merchants: ${policy.merchantIds.join(', ')}`);
  if (policy.windows.length > 0) {
    const zone = policy.timeZone === '' ? "the account's time zone" : policy.timeZone;
    lines.push(`times: ${policy.windows.map(describeWindow).join('; ')} (${zone})`);
  }
  return lines;
}

export function describePolicy(policy: SpendingPolicy, currency: string): string[] {
  if (!policy.restricted) return ['unrestricted: pays without limits and may authorize policy changes'];
  const limits = describeLimits(policy, currency);
  const header = 'restricted: every restriction below must hold (quota periods follow the account\'s time zone)';
  return limits.length === 0 ? [header, 'no limits set'] : [header, ...limits];
}
