/**
 * Property: requests submitted all at once to a group-commit ledger (so many share a transaction)
 * answer exactly as the same requests one at a time, in order, on a ledger without group commit.
 * Batching may change speed, never results: per-account order, holds, captures of holds taken in
 * the same batch, refunds and retries included.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Ledger } from '../../../core/ledger/index.js';
import { databaseTargets } from '../../helpers/database.js';
import { expectNoProblems, openLedgerFixture, type LedgerFixture, type Party } from './fixture.js';

const targets = await databaseTargets();
const RUNS = 10;
const SEED = 20_261_202;
const PAYERS = 3;

type Step =
  | { t: 'deposit'; payer: number; amountMinor: bigint }
  | { t: 'authorize'; payer: number; amountMinor: bigint }
  | { t: 'capture'; pick: number; amountMinor: bigint }
  | { t: 'void'; pick: number }
  | { t: 'refund'; pick: number; amountMinor: bigint }
  | { t: 'retry'; pick: number };

const payer = fc.integer({ min: 0, max: PAYERS - 1 });
const pick = fc.nat();
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ t: fc.constant('deposit' as const), payer, amountMinor: fc.bigInt({ min: 1n, max: 10_00n }) }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('authorize' as const), payer, amountMinor: fc.bigInt({ min: 1n, max: 6_00n }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('capture' as const), pick, amountMinor: fc.bigInt({ min: 0n, max: 3_00n }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('void' as const), pick }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('refund' as const), pick, amountMinor: fc.bigInt({ min: 1n, max: 2_00n }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('retry' as const), pick }) },
);

interface World {
  f: LedgerFixture;
  payers: Party[];
  merchant: string;
}

async function openWorld(target: (typeof targets)[number], batched: boolean): Promise<World> {
  const f = await openLedgerFixture(target, batched ? { groupCommit: { batchSizeMax: 16, lingerMs: 1 } } : {});
  const payers: Party[] = [];
  for (let i = 0; i < PAYERS; i += 1) payers.push(await f.customer(8_00n));
  return { f, payers, merchant: await f.merchant() };
}

/** The request of each step; ids are step numbers, so both worlds send the same bodies. */
function submit(world: World, steps: Step[], index: number): Promise<unknown> {
  const step = steps[index]!;
  const ledger: Ledger = world.f.ledger;
  const authorizeIndexes = steps.flatMap((s, i) => (s.t === 'authorize' && i < index ? [i] : []));
  const paymentOf = (n: number) => (authorizeIndexes.length === 0 ? 'pay-none' : `pay-${authorizeIndexes[n % authorizeIndexes.length]}`);
  switch (step.t) {
    case 'deposit':
      return ledger.deposit({ accountId: world.payers[step.payer]!.accountId, amountMinor: step.amountMinor, idempotencyKey: `dep-${index}` });
    case 'authorize':
      return ledger.authorize(authorizeRequest(world, step.payer, step.amountMinor, index));
    case 'capture':
      return ledger.capture({ paymentId: paymentOf(step.pick), amountMinor: step.amountMinor });
    case 'void':
      return ledger.void({ paymentId: paymentOf(step.pick), reason: '' });
    case 'refund':
      return ledger.refund({ paymentId: paymentOf(step.pick), refundId: `ref-${index}`, amountMinor: step.amountMinor });
    case 'retry': {
      const original = authorizeIndexes[step.pick % Math.max(1, authorizeIndexes.length)];
      if (original === undefined) return ledger.getAccount(world.payers[0]!.accountId).then((a) => a.balanceMinor);
      const first = steps[original] as Extract<Step, { t: 'authorize' }>;
      return ledger.authorize(authorizeRequest(world, first.payer, first.amountMinor, original));
    }
  }
}

function authorizeRequest(world: World, payerIndex: number, amountMinor: bigint, index: number) {
  return { ...world.f.authorizeRequest(world.payers[payerIndex]!, world.merchant, amountMinor), paymentId: `pay-${index}` };
}

/** What must agree between the worlds: account ids differ, so answers are reduced to amounts and codes. */
function summary(settled: PromiseSettledResult<unknown>): unknown {
  if (settled.status === 'rejected') return { error: (settled.reason as { code?: string }).code ?? String(settled.reason) };
  const value = settled.value as Record<string, unknown> | bigint;
  if (typeof value !== 'object') return value;
  const { accountId: _a, paymentId: _p, ...rest } = value;
  if (Array.isArray(rest.refusals)) rest.refusals = (rest.refusals as { code: string }[]).map((r) => r.code);
  return rest;
}

async function balances(world: World): Promise<bigint[]> {
  const ids = [...world.payers.map((p) => p.accountId), world.merchant];
  return Promise.all(ids.map(async (id) => (await world.f.ledger.getAccount(id)).balanceMinor));
}

describe.each(targets)('group commit on $name', (target) => {
  it('answers requests submitted together exactly as one at a time', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 10, maxLength: 40 }), async (steps) => {
        const sequential = await openWorld(target, false);
        const batched = await openWorld(target, true);
        try {
          const expected: PromiseSettledResult<unknown>[] = [];
          for (let i = 0; i < steps.length; i += 1) expected.push(...(await Promise.allSettled([submit(sequential, steps, i)])));
          const actual = await Promise.allSettled(steps.map((_s, i) => submit(batched, steps, i)));
          expect(actual.map(summary)).toEqual(expected.map(summary));
          expect(await balances(batched)).toEqual(await balances(sequential));
          await expectNoProblems(batched.f.ledger);
        } finally {
          await sequential.f.close();
          await batched.f.close();
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
  }, 180_000);
});
