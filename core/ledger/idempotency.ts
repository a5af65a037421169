/**
 * Idempotency records: (scope, key) -> hash of the canonical request + the encoded first response.
 * Money-moving batches read the records after taking their row locks and insert new ones with their
 * last statement (batch.ts, store.ts writeBatch). Requests with no row to lock (opening an account)
 * claim their key first instead: an insert that waits on a concurrent claimer, so the second reads
 * the first's result.
 */
import { hash } from 'node:crypto';
import { BiopayError, ErrorCode } from '../errors.js';
import type { SqlClient } from '../db/index.js';
import { toHex, type IdempotencyRecord } from './store.js';
import { encodeMessage, type MessageEncoder } from '../protobuf.js';

export interface Codec<T> extends MessageEncoder<T> {
  decode(input: Uint8Array): T;
  fromPartial(object: never): T;
}

export interface Claim {
  scope: string;
  key: string;
  requestHash: string;
}

export interface StoredResult {
  requestHash: string;
  response: Uint8Array;
}

/**
 * The protobuf encoding is canonical here: fields in number order, defaults omitted. fromPartial
 * first, so a request built without some (newer) fields hashes like one with their defaults.
 */
export function requestHash<T>(codec: Codec<T>, request: T): string {
  const canonical = codec.fromPartial(request as never);
  return hash('sha256', encodeMessage(codec, canonical), 'hex');
}

export function claimId(scope: string, key: string): string {
  return `${scope}\u0000${key}`;
}

/** Claims the keys in a fixed (sorted) order; returns the ids of the keys this transaction now owns. */
export async function claimKeys(tx: SqlClient, claims: Claim[], nowUnixMs: number): Promise<Set<string>> {
  if (claims.length === 0) return new Set();
  const sorted = [...claims].sort(compareClaims);
  const { rows } = await tx.query<{ scope: string; key: string }>(
    `INSERT INTO ledger_idempotency (scope, key, request_hash, created_unix_ms)
     SELECT u.scope, u.key, u.request_hash, $4::int8 FROM unnest($1::text[], $2::text[], $3::text[]) AS u(scope, key, request_hash)
     ON CONFLICT DO NOTHING RETURNING scope, key`,
    [sorted.map((c) => c.scope), sorted.map((c) => c.key), sorted.map((c) => c.requestHash), nowUnixMs],
  );
  return new Set(rows.map((row) => claimId(row.scope, row.key)));
}

export async function loadStoredResults(tx: SqlClient, claims: Claim[]): Promise<Map<string, StoredResult>> {
  const stored = new Map<string, StoredResult>();
  if (claims.length === 0) return stored;
  const { rows } = await tx.query<{ scope: string; key: string; request_hash: string; response: Uint8Array | null }>(
    `SELECT i.scope, i.key, i.request_hash, i.response FROM ledger_idempotency i
     JOIN unnest($1::text[], $2::text[]) AS u(scope, key) ON i.scope = u.scope AND i.key = u.key`,
    [claims.map((c) => c.scope), claims.map((c) => c.key)],
  );
  for (const row of rows) {
    if (row.response === null) continue; // an uncommitted claim is never visible to another transaction
    stored.set(claimId(row.scope, row.key), { requestHash: row.request_hash, response: row.response });
  }
  return stored;
}

export async function saveResponses(tx: SqlClient, saved: { claim: Claim; response: Uint8Array }[]): Promise<void> {
  if (saved.length === 0) return;
  await tx.query(
    `UPDATE ledger_idempotency i SET response = decode(u.response, 'hex')
     FROM unnest($1::text[], $2::text[], $3::text[]) AS u(scope, key, response)
     WHERE i.scope = u.scope AND i.key = u.key`,
    [
      saved.map((s) => s.claim.scope),
      saved.map((s) => s.claim.key),
      saved.map((s) => toHex(s.response)),
    ],
  );
}

/** First results as records to write with the batch (store.ts writeBatch), in claim order. */
export function recordsInClaimOrder(recorded: { claim: Claim; response: Uint8Array }[]): IdempotencyRecord[] {
  return [...recorded]
    .sort((a, b) => compareClaims(a.claim, b.claim))
    .map(({ claim, response }) => ({ scope: claim.scope, key: claim.key, requestHash: claim.requestHash, response }));
}

/** The first result for a replay with the same body; IDEMPOTENCY_CONFLICT for a different body. */
export function replay<T>(codec: Codec<T>, claim: Claim, stored: StoredResult): T {
  if (stored.requestHash !== claim.requestHash) {
    throw new BiopayError(
      ErrorCode.IdempotencyConflict,
      `${claim.scope} "${claim.key}" was already used with a different request`,
    );
  }
  return codec.decode(stored.response);
}

/**
 * One idempotent request in its own transaction (account opening, policy changes): runs `fn` once
 * per key; an empty key runs it without protection.
 */
export async function runIdempotent<Req, Res>(
  tx: SqlClient,
  target: { scope: string; key: string; nowUnixMs: number },
  codecs: { request: Codec<Req>; response: Codec<Res> },
  request: Req,
  fn: () => Promise<Res>,
): Promise<Res> {
  if (target.key === '') return fn();
  const claim: Claim = { scope: target.scope, key: target.key, requestHash: requestHash(codecs.request, request) };
  const claimed = await claimKeys(tx, [claim], target.nowUnixMs);
  if (!claimed.has(claimId(claim.scope, claim.key))) {
    const stored = (await loadStoredResults(tx, [claim])).get(claimId(claim.scope, claim.key));
    if (!stored) throw new BiopayError(ErrorCode.Unavailable, `${claim.scope} "${claim.key}" is in progress elsewhere`);
    return replay(codecs.response, claim, stored);
  }
  const response = await fn();
  await saveResponses(tx, [{ claim, response: encodeMessage(codecs.response, response) }]);
  return response;
}

function compareClaims(a: Claim, b: Claim): number {
  if (a.scope !== b.scope) return a.scope < b.scope ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
