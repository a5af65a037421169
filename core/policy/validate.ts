/** Refuses nonsensical policies before they are stored. */
import { BiopayError, ErrorCode } from '../errors.js';
import { INT64_MAX } from '../money.js';
import type { SpendingPolicy, TimeWindow, Geofence } from '../../proto/gen/biopay/v1/ledger.js';
import { isValidGeoPoint } from './geo.js';
import { isKnownPeriod, periodWord } from './period.js';
import { assertTimeZone } from './time-zone.js';
import { ALL_DAYS_MASK, MINUTES_PER_DAY } from './window.js';

/** Limits keep one policy small enough to check in microseconds and store in one row. */
export const POLICY_LIMITS = {
  placesMax: 64,
  idsMax: 256,
  idLengthMax: 128,
  windowsMax: 64,
  countMax: 0xffff_ffff,
  radiusMMax: 20_037_509, // half the Earth's circumference: beyond it a circle covers everything
} as const;

function refuse(message: string): never {
  throw new BiopayError(ErrorCode.BadRequest, `spending policy: ${message}`);
}

/**
 * The proto3 default (no policy at all) is unrestricted. A restricted credential is never
 * unrestricted, even with no limits set: only the class decides who may authorize policy changes.
 */
export function isUnrestricted(policy: SpendingPolicy | undefined): boolean {
  return policy === undefined || !policy.restricted;
}

function hasRestrictions(policy: SpendingPolicy): boolean {
  return (
    policy.maxPerPaymentMinor !== 0n || policy.quotas.length > 0 || policy.counts.length > 0 ||
    policy.places.length > 0 || policy.terminalIds.length > 0 || policy.merchantIds.length > 0 ||
    policy.windows.length > 0 || policy.timeZone !== ''
  );
}

function validateAmounts(policy: SpendingPolicy): void {
  if (policy.maxPerPaymentMinor < 0n || policy.maxPerPaymentMinor > INT64_MAX) {
    refuse(`maximum per payment must be between 0 (none) and ${INT64_MAX}, got ${policy.maxPerPaymentMinor}`);
  }
  const quotaPeriods = new Set<number>();
  for (const quota of policy.quotas) {
    if (!isKnownPeriod(quota.period)) refuse(`quota period must be day, week, month or lifetime, got ${quota.period}`);
    if (quotaPeriods.has(quota.period)) refuse(`two ${periodWord(quota.period)} quotas`);
    quotaPeriods.add(quota.period);
    // A zero quota is allowed: it blocks the credential until the policy changes.
    if (quota.amountMinor < 0n || quota.amountMinor > INT64_MAX) refuse(`${periodWord(quota.period)} quota must be 0 or more, got ${quota.amountMinor}`);
  }
  const countPeriods = new Set<number>();
  for (const limit of policy.counts) {
    if (!isKnownPeriod(limit.period)) refuse(`count period must be day, week, month or lifetime, got ${limit.period}`);
    if (countPeriods.has(limit.period)) refuse(`two ${periodWord(limit.period)} payment counts`);
    countPeriods.add(limit.period);
    if (!Number.isInteger(limit.count) || limit.count < 0 || limit.count > POLICY_LIMITS.countMax) {
      refuse(`${periodWord(limit.period)} payment count must be a whole number 0 or more, got ${limit.count}`);
    }
  }
}

function validatePlace(place: Geofence): void {
  if (!isValidGeoPoint(place.center)) refuse('a place needs a center with latitude -90..90 and longitude -180..180');
  if (!Number.isFinite(place.radiusM) || place.radiusM <= 0 || place.radiusM > POLICY_LIMITS.radiusMMax) {
    refuse(`a place radius must be more than 0 and at most ${POLICY_LIMITS.radiusMMax} m, got ${place.radiusM}`);
  }
}

function validateIds(ids: string[], what: string): void {
  if (ids.length > POLICY_LIMITS.idsMax) refuse(`at most ${POLICY_LIMITS.idsMax} ${what}s, got ${ids.length}`);
  for (const id of ids) {
    if (id.trim() === '' || id.length > POLICY_LIMITS.idLengthMax) refuse(`a ${what} id must be 1..${POLICY_LIMITS.idLengthMax} characters, got "${id}"`);
  }
  if (new Set(ids).size !== ids.length) refuse(`a ${what} is listed twice`);
}

function isMinute(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value < MINUTES_PER_DAY;
}

function validateWindow(window: TimeWindow): void {
  if (!Number.isInteger(window.days) || window.days <= 0 || window.days > ALL_DAYS_MASK) {
    refuse(`a time window needs at least one day (days mask 1..127), got ${window.days}`);
  }
  if (!isMinute(window.startMinute) || !isMinute(window.endMinute)) {
    refuse(`a time window's minutes must be 0..1439, got ${window.startMinute}-${window.endMinute}`);
  }
}

/** Throws BAD_REQUEST naming the first nonsense found. */
export function validatePolicy(policy: SpendingPolicy): void {
  if (!policy.restricted) {
    if (hasRestrictions(policy)) refuse('an unrestricted credential cannot carry restrictions (add --restricted)');
    return;
  }
  validateAmounts(policy);
  if (policy.places.length > POLICY_LIMITS.placesMax) refuse(`at most ${POLICY_LIMITS.placesMax} places, got ${policy.places.length}`);
  for (const place of policy.places) validatePlace(place);
  validateIds(policy.terminalIds, 'terminal');
  validateIds(policy.merchantIds, 'merchant');
  if (policy.windows.length > POLICY_LIMITS.windowsMax) refuse(`at most ${POLICY_LIMITS.windowsMax} time windows, got ${policy.windows.length}`);
  for (const window of policy.windows) validateWindow(window);
  if (policy.timeZone !== '') assertTimeZone(policy.timeZone);
}
