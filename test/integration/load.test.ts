/**
 * `biopay load` end to end on the embedded network: a small population, a few seconds at a low
 * rate, every workload category showing up with its expected ending, and the ledger check passing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCommand } from '../../cli/load.js';
import { matcherKernelSetting } from '../../core/biometrics/mcc-matcher.js';
import { databaseTargets, postgresUrl } from '../helpers/database.js';

const reportDir = mkdtempSync(join(tmpdir(), 'biopay-load-test-'));
// Reachable PostgreSQL, or none (BIOPAY_REQUIRE_POSTGRES=1, as in CI, makes an unreachable one throw instead).
const postgres = (await databaseTargets()).some((target) => target.name === 'postgres');

afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

describe('biopay load on the embedded network', () => {
  it('drives the mix, reports it, and the ledger check passes', async () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await loadCommand([
      '--rate', '12', '--duration', '6', '--warmup', '1', '--arrival', 'constant',
      '--enrolled', '60', '--accounts', '20', '--terminals', '4', '--seed', '42',
      '--mix', 'approved=40,restricted=15,insufficient=15,unknown=15,jammed=15',
      '--settle-wait', '15', '--report-dir', reportDir, '--json',
    ], { stdout: (text) => stdout.push(text), stderr: (text) => stderr.push(text) });
    const report = JSON.parse(stdout.join(''));
    expect(report.ledgerCheck.problems).toEqual([]);
    expect(code).toBe(0);
    expect(report.passed).toBe(true);
    expect(report.run.sent).toBeGreaterThanOrEqual(60);
    expect(report.config.enrollImpressions).toBe(3);
    expect(report.network).toEqual({
      ledgerDatabase: 'pglite', matchWorkers: 2, candidates: 600, hintedCandidates: 1500, brownout: 'off', commitIntervalMs: 10, identifyWaitTargetMs: 50, matcherKernel: matcherKernelSetting(),
    });
    expect(report.errorCount).toBe(0);
    expect(report.outcomes.approved).toBeGreaterThan(0);
    expect(report.approvedPerSecond).toBeGreaterThan(0);
    expect(report.p99Ms).toBeGreaterThanOrEqual(report.p50Ms);
    expect(report.p999Ms).toBeGreaterThanOrEqual(report.p99Ms);
    // Each category ends as designed at least once: biometric misses may move a few elsewhere.
    for (const category of ['approved', 'restricted', 'insufficient', 'unknown', 'jammed']) {
      expect(report.run.categories[category].asExpected, category).toBeGreaterThan(0);
    }
    expect(report.run.refusals).toMatchObject({ MAX_PER_PAYMENT: expect.any(Number), INSUFFICIENT_FUNDS: expect.any(Number), NO_MATCH: expect.any(Number) });
    expect(report.outcomes.voided).toBeGreaterThan(0);
    expect(report.ledgerCheck.capturedOnce).toBe(report.ledgerCheck.approvedChecked);
    expect(report.ledgerCheck.openHolds).toBe(0);
    // Every hold, approved or voided (the jammed dispensers' business steps failed), was reconciled
    // with its business record.
    expect(report.ledgerCheck.businessStepsChecked).toBeGreaterThanOrEqual(report.ledgerCheck.approvedChecked + report.ledgerCheck.voidedChecked);
    expect(report.run.latency.stages.identify.count).toBeGreaterThan(0);
    expect(report.run.timeline.length).toBeGreaterThanOrEqual(6);
    // The event loop was sampled every second of the measurement (a probe ran: a loop is never idle all second).
    for (const point of report.run.timeline.slice(0, -1)) expect(point.loopUtilization, `second ${point.tS}`).toBeGreaterThan(0);
    expect(report.run.eventLoop.utilizationMean).toBeGreaterThan(0);
    expect(report.run.eventLoop.delayMaxMs).toBeGreaterThanOrEqual(0);
    expect(stderr.some((line) => line.includes('[measure'))).toBe(true);
    const html = join(reportDir, `load-${report.startedAt.replace(/[:.]/g, '-')}-${report.runId}.html`);
    expect(existsSync(html)).toBe(true);
    expect(readFileSync(html, 'utf8')).toContain('<svg');
    expect(readFileSync(html, 'utf8')).toContain('Costs per payment');
    expect(readFileSync(html, 'utf8')).toContain('Event loop of this process per second');
    // The embedded network is one node running every role, as its status service tells it.
    expect(report.nodes).toEqual([expect.objectContaining({ roles: ['terminal', 'association', 'account', 'business', 'gateway'] })]);
    expect(readFileSync(html, 'utf8')).toMatch(/Network: 1 node, version \d+\.\d+\.\d+: terminal\+association\+account\+business\+gateway \(partition 0\/1, 2 matcher threads\)/);
    // The embedded ledger's group commit: every payment that reached the ledger took part in a
    // transaction (authorize, then capture or void), several requests to a transaction at most.
    const ledger = report.costsPerPayment.ledger;
    expect(ledger.transactionsPerPayment).toBeGreaterThan(0);
    expect(ledger.transactionsPerPayment).toBeLessThanOrEqual(3);
    expect(ledger.operationsPerTransaction).toBeGreaterThanOrEqual(1);
    expect(readFileSync(html, 'utf8')).toContain('requests per transaction');
    const byComponent = report.costsPerPayment.cpuMsPerPaymentByComponent;
    if (process.platform === 'linux') {
      expect(Object.keys(byComponent).sort()).toEqual(['biopayNodes', 'mainThread', 'matcherThreads', 'natsServer', 'otherThreads', 'postgres', 'restOfMachine']);
      expect(byComponent.mainThread).toBeGreaterThan(0);
      // The main thread and nats-server wait for messages between payments, and are woken for them.
      expect(report.costsPerPayment.voluntarySwitchesPerPaymentByComponent.mainThread).toBeGreaterThan(0);
      expect(report.costsPerPayment.voluntarySwitchesPerPaymentByComponent.natsServer).toBeGreaterThan(0);
    } else {
      expect(byComponent).toBeUndefined();
    }
  });
});

describe('biopay load past capacity', () => {
  // One matcher thread comparing all 300 fingers per touch serves a few hundred a second; 1,500 a
  // second is several times that.
  const overload = async (extra: string[]) => {
    const stdout: string[] = [];
    const code = await loadCommand([
      '--rate', '1500', '--duration', '3', '--warmup', '1', '--arrival', 'constant',
      '--enrolled', '300', '--accounts', '100', '--terminals', '8', '--seed', '5', '--no-hint', '--match-workers', '1',
      '--settle-wait', '15', '--report-dir', reportDir, '--json', ...extra,
    ], { stdout: (text) => stdout.push(text), stderr: () => undefined });
    return { code, report: JSON.parse(stdout.join('')) };
  };

  const expectShedWithoutLoss = ({ code, report }: Awaited<ReturnType<typeof overload>>) => {
    expect(report.ledgerCheck.problems).toEqual([]);
    expect(code).toBe(0);
    expect(report.outcomes.approved).toBeGreaterThan(0);
    // Refused at the terminal node's identify queue, and answered: none left without a result. On
    // a machine also busy with other work some identifies time out instead (TIMEOUT, answered): the
    // starved event loop spends their deadline before they reach the queue.
    const causes = JSON.stringify(report.run.errorCauses);
    expect(Object.keys(report.run.errors).filter((code) => code !== 'UNAVAILABLE' && code !== 'TIMEOUT'), causes).toEqual([]);
    const shedAtTerminal = Object.entries<number>(report.run.errorCauses)
      .filter(([cause]) => cause.startsWith('UNAVAILABLE: terminal node identify overloaded: '))
      .reduce((sum, [, count]) => sum + count, 0);
    expect(shedAtTerminal, causes).toBeGreaterThan(report.run.sent / 4);
    expect(report.ledgerCheck.capturedOnce).toBe(report.ledgerCheck.approvedChecked);
    expect(report.ledgerCheck.openHolds).toBe(0);
  };

  it('sheds what the network cannot serve as UNAVAILABLE refusals, and loses no money', async () => {
    expectShedWithoutLoss(await overload([]));
  });

  it('with --identify-wait-target-ms, refuses touches that waited past it in a standing queue, and loses no money', async () => {
    const run = await overload(['--identify-wait-target-ms', '20']);
    expectShedWithoutLoss(run);
    const { report } = run;
    expect(report.network.identifyWaitTargetMs).toBe(20);
    expect(Object.keys(report.run.errorCauses).some((cause) => /in a queue standing for N ms \(target N ms\)/.test(cause))).toBe(true);
  });

  it('with --brownout, compares fewer index candidates per identify while identifies queue; all of them by default', async () => {
    // 100 index candidates of 300 fingers: searches go through the index (more than twice 100).
    const browned = await overload(['--candidates', '100', '--brownout']);
    const full = await overload(['--candidates', '100']);
    for (const run of [browned, full]) expectShedWithoutLoss(run);
    expect(browned.report.network.brownout).toBe('on');
    expect(full.report.network.brownout).toBe('off');
    // A search that finds nobody compares every candidate it is allowed: 100, or fewer browned out.
    const strangerComparisons = (run: typeof full) => run.report.run.identifyComparisons.whenNoMatch as number;
    expect(strangerComparisons(full)).toBeGreaterThan(90);
    expect(strangerComparisons(full)).toBeLessThanOrEqual(100);
    expect(strangerComparisons(browned)).toBeLessThan(strangerComparisons(full) * 0.9);
    // The association node's count of the measured phase, in the report.
    expect(browned.report.costsPerPayment.identifiesBrownedOut).toBeGreaterThan(0);
    expect(browned.report.costsPerPayment.identifiesBrownedOut).toBeLessThanOrEqual(browned.report.run.sent);
    expect(full.report.costsPerPayment.identifiesBrownedOut).toBe(0);
    // Two overloaded runs: about 40 s alone, more beside the rest of the suite.
  }, 150_000);
});

describe('biopay load flags', () => {
  it('refuses settings of the embedded network with --nats instead of ignoring them', async () => {
    const stderr: string[] = [];
    const run = (args: string[]) => loadCommand(args, { stdout: () => undefined, stderr: (text) => stderr.push(text) });
    expect(await run(['--nats', 'nats://127.0.0.1:1', '--candidates', '100', '--commit-interval-ms', '5'])).toBe(2);
    expect(stderr.join('\n')).toContain('--candidates, --commit-interval-ms: embedded network only');
    expect(await run(['--nats', 'nats://127.0.0.1:1', '--match-workers', '1'])).toBe(2);
    expect(await run(['--nats', 'nats://127.0.0.1:1', '--brownout'])).toBe(2);
    expect(stderr.join('\n')).toContain('--brownout: embedded network only');
    expect(await run(['--commit-interval-ms=-1'])).toBe(2);
    expect(await run(['--commit-interval-ms', '1001'])).toBe(2);
    expect(await run(['--nats', 'nats://127.0.0.1:1', '--identify-wait-target-ms', '50'])).toBe(2);
    expect(await run(['--identify-wait-target-ms', '0'])).toBe(2);
    expect(await run(['--identify-wait-target-ms', '201'])).toBe(2);
  });
});

describe('biopay load --ramp on the embedded network', () => {
  it('steps the rate up, judges each step and reports the machine CPU per payment of each', async () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await loadCommand([
      '--ramp', '--p99-ms', '5000', '--ramp-steps', '2', '--rate', '8', '--duration', '2', '--warmup', '1', '--arrival', 'constant',
      '--enrolled', '30', '--accounts', '10', '--terminals', '2', '--seed', '9', '--settle-wait', '15', '--report-dir', reportDir, '--json',
    ], { stdout: (text) => stdout.push(text), stderr: (text) => stderr.push(text) });
    const report = JSON.parse(stdout.join(''));
    expect(code).toBe(0);
    expect(report.ledgerCheck.problems).toEqual([]);
    expect(report.ramp.steps.map((step: { rate: number }) => step.rate)).toEqual([8, 12]);
    for (const step of report.ramp.steps) {
      expect(step.passed, step.reason).toBe(true);
      if (process.platform === 'linux') expect(step.machineCpuMsPerPayment).toBeGreaterThan(0);
    }
    expect(report.ramp.bestRate).toBe(12);
    expect(stderr.some((line) => line.includes('ramp 12/s: p99'))).toBe(true);
  });
});

describe.runIf(postgres)('biopay load with its ledger on PostgreSQL', () => {
  const schemaExists = async (schema: string): Promise<boolean> => {
    const client = new pg.Client({ connectionString: postgresUrl() });
    await client.connect();
    try {
      return (await client.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema])).rowCount === 1;
    } finally {
      await client.end();
    }
  };

  it('keeps the run in a schema of its own and drops it afterwards', async () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await loadCommand([
      '--database', postgresUrl(), '--rate', '10', '--duration', '3', '--warmup', '1', '--arrival', 'constant',
      '--enrolled', '30', '--accounts', '10', '--terminals', '2', '--seed', '7', '--settle-wait', '15',
      '--report-dir', reportDir, '--json',
    ], { stdout: (text) => stdout.push(text), stderr: (text) => stderr.push(text) });
    const report = JSON.parse(stdout.join(''));
    expect(code).toBe(0);
    expect(report.ledgerCheck.problems).toEqual([]);
    expect(report.outcomes.approved).toBeGreaterThan(0);
    const schema = /dropping the run's ledger schema (biopay_load_[0-9a-f]+)/.exec(stderr.join('\n'))?.[1];
    expect(schema).toBeDefined();
    expect(report.target).toContain('PostgreSQL');
    expect(await schemaExists(schema!)).toBe(false);
  });

  it('refuses --schema without --database, and a schema name PostgreSQL would need quoted', async () => {
    const run = (args: string[]) => loadCommand(args, { stdout: () => undefined, stderr: () => undefined });
    expect(await run(['--schema', 'mine'])).toBe(2);
    expect(await run(['--database', postgresUrl(), '--schema', 'Robert"; DROP'])).toBe(2);
  });
});
