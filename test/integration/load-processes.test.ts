/**
 * `biopay load --nats` as an operator runs it: against a network already running as separate node
 * processes (account on PGlite, association, business, a terminal node listening to every
 * terminal), with its own nats-server. The load tool sets its population up through the network's
 * own actors, drives its terminals' sensors, and checks the ledger through the account node.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { loadCommand } from '../../cli/load.js';
import { main } from '../../cli/main.js';
import type { NodeStatus } from '../../core/status/node-status.js';
import { TemplateSealer } from '../../core/association/template-crypto.js';
import { runCaptured } from '../helpers/cli-io.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startBackOfficeProcesses, startNodeProcess, type NodeProcess } from '../helpers/node-process.js';

const runCli = (args: string[]) => runCaptured(main, args);

describe('biopay load --nats against node processes', () => {
  let nats: NatsServerHandle;
  let dataDir: string;
  const nodes: NodeProcess[] = [];

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
    dataDir = mkdtempSync(join(tmpdir(), 'biopay-load-it-'));
    const env = { BIOPAY_TEMPLATE_KEY: TemplateSealer.generateKeyBase64() };
    const [backOffice, terminal] = await Promise.all([
      startBackOfficeProcesses(nats.url, dataDir, env),
      // No --terminals: this node takes the sensor events of every terminal, the load tool's too.
      startNodeProcess('terminal', ['--nats', nats.url], env),
    ]);
    nodes.push(...backOffice, terminal);
  }, 180_000);

  afterAll(async () => {
    const exitCodes = await Promise.all(nodes.map((node) => node.stop()));
    await nats?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    expect(exitCodes).toEqual(nodes.map(() => 0));
  }, 60_000);

  it('sets up its population, drives the mix, and the ledger check passes', async () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await loadCommand([
      '--nats', nats.url, '--rate', '10', '--duration', '4', '--warmup', '1', '--arrival', 'constant',
      '--enrolled', '40', '--accounts', '15', '--terminals', '3', '--seed', '11',
      '--mix', 'approved=55,restricted=15,insufficient=10,unknown=10,jammed=10',
      '--settle-wait', '15', '--report-dir', join(dataDir, 'reports'), '--json',
    ], { stdout: (text) => stdout.push(text), stderr: (text) => stderr.push(text) });
    const report = JSON.parse(stdout.join(''));
    expect(report.ledgerCheck.problems).toEqual([]);
    expect(code, stderr.join('\n')).toBe(0);
    expect(report.passed).toBe(true);
    // A running network keeps its own settings: the report says which network it drove, not how.
    expect(report.target).toBe(nats.url);
    expect(report.network).toBeUndefined();
    expect(report.run.sent).toBeGreaterThanOrEqual(40);
    expect(report.errorCount).toBe(0);
    expect(report.outcomes.approved).toBeGreaterThan(0);
    expect(report.outcomes.voided).toBeGreaterThan(0);
    expect(report.run.refusals.NO_MATCH).toBeGreaterThan(0);
    expect(report.ledgerCheck.capturedOnce).toBe(report.ledgerCheck.approvedChecked);
    expect(report.ledgerCheck.openHolds).toBe(0);
    expect(report.ledgerCheck.businessStepsChecked).toBeGreaterThanOrEqual(report.ledgerCheck.approvedChecked + report.ledgerCheck.voidedChecked);
    // The nodes' status service tells what the run cost the ledger and the matcher, as embedded.
    expect(report.costsPerPayment.ledger.transactionsPerPayment).toBeGreaterThan(0);
    expect(report.costsPerPayment.ledger.operationsPerTransaction).toBeGreaterThanOrEqual(1);
    expect(report.costsPerPayment.identifiesBrownedOut).toBe(0);
    // Which nodes it drove, as they answered the status service when the run began.
    expect(report.nodes.map((node: { roles: string[] }) => node.roles.join(',')).sort()).toEqual(['account', 'association', 'business', 'terminal']);
    expect(report.nodes.find((node: { roles: string[] }) => node.roles[0] === 'association').association).toEqual({ partition: '0/1', matcherThreads: 1, brownout: false });
    if (process.platform === 'linux') {
      // The node processes name themselves after their roles, so their CPU is told apart.
      expect(Object.keys(report.costsPerPayment.cpuMsPerPaymentByNodeProcess).sort())
        .toEqual(expect.arrayContaining(['biopay-account', 'biopay-assoc', 'biopay-business', 'biopay-terminal']));
      expect(report.costsPerPayment.cpuMsPerPaymentByComponent.biopayNodes).toBeGreaterThan(0);
    }
  }, 180_000);

  it('biopay status finds every node process with its roles and counters, and skips a reply that is not a status', async () => {
    // Other programs answering under the service's name: their replies are counted, not trusted,
    // and one that is not even JSON does not end the collection.
    const stranger = await connect({ servers: nats.url });
    stranger.subscribe('$SRV.STATS.biopay', { callback: (_error, message) => { message.respond('{"endpoints":[{"data":{"node":7}}]}'); } });
    stranger.subscribe('$SRV.STATS.biopay', { callback: (_error, message) => { message.respond('not json'); } });
    await stranger.flush();
    try {
      const json = await runCli(['status', '--nats', nats.url, '--json']);
      expect(json.code, json.stderr).toBe(0);
      const { nodes: statuses, skipped } = JSON.parse(json.stdout) as { nodes: NodeStatus[]; skipped: number };
      expect(skipped).toBe(2);
      expect(statuses.map((status) => status.roles.join(',')).sort()).toEqual(['account', 'association', 'business', 'terminal']);
      expect(statuses.map((status) => status.pid).sort()).toEqual(nodes.map((node) => node.child.pid).sort());
      const byRole = new Map(statuses.map((status) => [status.roles[0], status]));
      // The load test before this one enrolled 40 fingers and paid through the ledger.
      expect(byRole.get('association')!.association).toMatchObject({ partition: '0/1', matcherThreads: 1, brownout: false, identifiesBrownedOut: 0 });
      expect(byRole.get('association')!.association!.templates).toBeGreaterThanOrEqual(30);
      expect(byRole.get('account')!.account!.ledgerTransactions).toBeGreaterThan(0);
      expect(byRole.get('terminal')!.terminal).toMatchObject({ paymentsInFlight: 0, identifiesRunning: 0, identifiesWaiting: 0 });
      expect(byRole.get('business')).toMatchObject({ version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
      const text = await runCli(['status', '--nats', nats.url]);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain('4 nodes on');
      expect(text.stdout).toMatch(/association: partition 0\/1, \d+ templates/);
    } finally {
      await stranger.close();
    }
  }, 60_000);
});
