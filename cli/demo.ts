/**
 * `biopay demo`: starts the embedded network with temporary data, runs a scripted story through
 * real sensor events (accounts, deposits, enrollments, approved and refused payments, a failing
 * business step that is voided), measures a short loop of payments, prints a summary and exits.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AccountKind } from '../proto/gen/biopay/v1/ledger.js';
import { PaymentOutcome, type PaymentResult } from '../proto/gen/biopay/v1/payment.js';
import { enroll, flowClients } from '../core/flows/index.js';
import { createLogger, silentLogger } from '../core/log.js';
import { formatAmount, parseAmount } from '../core/money.js';
import { ActorKind, LedgerProtocol, TerminalProtocol } from '../core/protocols.js';
import { describeOutcome } from '../core/terminal/outcome.js';
import { touchAndWait } from '../core/terminal/sensor-simulator.js';
import type { Network } from '../nodes/network.js';
import { startEmbedded } from './embedded.js';
import { ExitCode, toJson, type CommandIo } from './io.js';
import { demoTemplatePath } from './paths.js';

const HELP = `Usage: biopay demo [--payments N] [--json] [--verbose]

Starts an embedded biopay network (nats-server with JetStream, PGlite, every node role) with
temporary data, runs a scripted story of biometric payments, prints a summary and exits.

  --payments N   payments in the closing measurement loop (default 50)
  --json         print the summary as one JSON object
  --verbose      show the nodes' logs
  --help         this text

Exit code 0 when every step of the story ended as scripted, 1 otherwise.`;

const CURRENCY = 'EUR';
const PAYMENT_TIMEOUT_MS = 15_000;

interface StoryStep {
  readonly name: string;
  readonly expected: PaymentOutcome;
  readonly result: PaymentResult;
  readonly latencyMs: number;
}

export async function demoCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      payments: { type: 'string', default: '50' },
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    io.stdout(HELP);
    return ExitCode.Ok;
  }
  const loopPayments = Number(values.payments);
  if (!Number.isInteger(loopPayments) || loopPayments < 1 || loopPayments > 100_000) {
    io.stderr('--payments must be an integer from 1 to 100000');
    return ExitCode.Usage;
  }
  const progress = values.json ? () => undefined : (line: string) => io.stderr(line);
  const dataDir = mkdtempSync(join(tmpdir(), 'biopay-demo-'));
  progress('starting the embedded network (nats-server, PGlite, all roles)...');
  const embedded = await startEmbedded({
    dataDir, grpcPort: 0, log: values.verbose ? createLogger() : silentLogger(), matchWorkers: 2,
  });
  try {
    const summary = await runStory(embedded.network, loopPayments, progress);
    io.stdout(values.json ? toJson(summary) : renderSummary(summary));
    return summary.allAsScripted ? ExitCode.Ok : ExitCode.Failed;
  } finally {
    progress('stopping...');
    await embedded.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

type Summary = Awaited<ReturnType<typeof runStory>>;

async function runStory(network: Network, loopPayments: number, progress: (line: string) => void) {
  const ledger = network.system.client(ActorKind.Ledger, LedgerProtocol);
  const terminals = network.system.client(ActorKind.Terminal, TerminalProtocol);
  const clients = flowClients(network.system);
  const amount = (decimal: string) => ({ amountMinor: parseAmount(decimal, CURRENCY), currency: CURRENCY });
  const open = (owner: string, kind: AccountKind) =>
    ledger.ask(owner, 'openAccount', { owner, currency: CURRENCY, kind, timeZone: 'Europe/Berlin', idempotencyKey: `demo-open-${owner}` });

  progress('opening accounts, depositing, enrolling fingers...');
  const canteen = await open('Canteen', AccountKind.ACCOUNT_KIND_MERCHANT);
  const kiosk = await open('Kiosk', AccountKind.ACCOUNT_KIND_MERCHANT);
  const alice = await open('Alice', AccountKind.ACCOUNT_KIND_CUSTOMER);
  const bob = await open('Bob', AccountKind.ACCOUNT_KIND_CUSTOMER);
  await ledger.ask(alice.accountId, 'deposit', { accountId: alice.accountId, amountMinor: parseAmount('100.00', CURRENCY), idempotencyKey: 'demo-deposit-alice' });
  await ledger.ask(bob.accountId, 'deposit', { accountId: bob.accountId, amountMinor: parseAmount('5.00', CURRENCY), idempotencyKey: 'demo-deposit-bob' });
  await terminals.ask('T1', 'registerTerminal', { terminal: { terminalId: 'T1', merchantAccountId: canteen.accountId, location: undefined, action: 'open-gate', hint: '', item: '' } });
  await terminals.ask('T2', 'registerTerminal', { terminal: { terminalId: 'T2', merchantAccountId: kiosk.accountId, location: undefined, action: 'dispense', hint: '', item: 'jammed' } });
  // Alice touches the enrollment sensor three times: the node keeps the impression that agrees best with the others.
  const aliceEnrolled = await enroll(clients, {
    accountId: alice.accountId, isoTemplate: template('101_1'), extraImpressions: [template('101_5'), template('101_6')], credentialId: '',
    modality: 0, embedding: undefined, policy: undefined, idempotencyKey: 'demo-enroll-alice', hint: '',
  });
  progress(`  Alice enrolled from ${aliceEnrolled.impressions} impressions; impression ${aliceEnrolled.selectedImpression + 1} kept`);
  await enroll(clients, { accountId: bob.accountId, isoTemplate: template('102_1'), credentialId: '', modality: 0, embedding: undefined, policy: undefined, idempotencyKey: 'demo-enroll-bob', hint: '', extraImpressions: [] });

  const steps: StoryStep[] = [];
  const pay = async (name: string, terminalId: string, finger: string, decimal: string, expected: PaymentOutcome) => {
    const startedMs = performance.now();
    const result = await touchAndWait(network.nc, {
      terminalId, sessionId: `demo-${steps.length}`, isoTemplate: template(finger), amount: amount(decimal),
    }, PAYMENT_TIMEOUT_MS);
    steps.push({ name, expected, result, latencyMs: performance.now() - startedMs });
    progress(`  ${name}: ${describeOutcome(result.outcome)}${result.refusals.length ? ` (${result.refusals.map((r) => r.message).join('; ')})` : ''}`);
  };
  progress('paying at the terminals with sensor events...');
  await pay('Alice buys lunch (12.34 EUR), another impression of her finger', 'T1', '101_2', '12.34', PaymentOutcome.PAYMENT_OUTCOME_APPROVED);
  await pay('Alice buys a coffee (2.10 EUR)', 'T1', '101_3', '2.10', PaymentOutcome.PAYMENT_OUTCOME_APPROVED);
  await pay('An unknown finger tries to pay (3.00 EUR)', 'T1', '105_1', '3.00', PaymentOutcome.PAYMENT_OUTCOME_REFUSED);
  await pay('Bob pays 20.00 EUR with 5.00 EUR on his account', 'T1', '102_2', '20.00', PaymentOutcome.PAYMENT_OUTCOME_REFUSED);
  await pay('Alice buys a snack at a jammed dispenser (4.00 EUR)', 'T2', '101_4', '4.00', PaymentOutcome.PAYMENT_OUTCOME_VOIDED);

  progress(`measuring ${loopPayments} sequential payments...`);
  const loop = await measureLoop(network, loopPayments, amount('0.01'));
  const balances = await Promise.all([alice, bob, canteen, kiosk].map((account) =>
    ledger.ask(account.accountId, 'getAccount', { accountId: account.accountId })));
  const invariants = await network.ledger!.checkInvariants();
  return {
    steps: steps.map((step) => ({
      name: step.name,
      outcome: describeOutcome(step.result.outcome),
      asScripted: step.result.outcome === step.expected,
      reasons: step.result.refusals.map((refusal) => ({ code: refusal.code, message: refusal.message })),
      amount: step.result.amount ? formatAmount(step.result.amount.amountMinor, CURRENCY) : '',
      latencyMs: round(step.latencyMs),
    })),
    balances: balances.map((account) => ({
      owner: account.owner, accountId: account.accountId,
      balance: formatAmount(account.balanceMinor, CURRENCY), available: formatAmount(account.availableMinor, CURRENCY),
    })),
    loop,
    moneyConserved: invariants.problems.length === 0,
    invariantProblems: invariants.problems,
    allAsScripted: steps.every((step) => step.result.outcome === step.expected) && invariants.problems.length === 0 && loop.approved === loopPayments,
  };
}

async function measureLoop(network: Network, payments: number, amount: { amountMinor: bigint; currency: string }) {
  const latenciesMs: number[] = [];
  const stageUs: Record<'identifyUs' | 'authorizeUs' | 'businessUs' | 'settleUs', number[]> = {
    identifyUs: [], authorizeUs: [], businessUs: [], settleUs: [],
  };
  let approved = 0;
  const startedMs = performance.now();
  for (let index = 0; index < payments; index++) {
    const beganMs = performance.now();
    const result = await touchAndWait(network.nc, {
      terminalId: 'T1', sessionId: `loop-${index}`, isoTemplate: template(index % 2 === 0 ? '101_2' : '101_3'), amount,
    }, PAYMENT_TIMEOUT_MS);
    latenciesMs.push(performance.now() - beganMs);
    for (const stage of Object.keys(stageUs) as Array<keyof typeof stageUs>) stageUs[stage].push(result.timings?.[stage] ?? 0);
    if (result.outcome === PaymentOutcome.PAYMENT_OUTCOME_APPROVED) approved++;
  }
  const elapsedS = (performance.now() - startedMs) / 1000;
  latenciesMs.sort((a, b) => a - b);
  return {
    workload: `${payments} sequential payments of 0.01 EUR at T1 (sensor events -> identify 1:N over the enrolled gallery -> authorize -> business -> capture), one in flight`,
    payments,
    approved,
    medianLatencyMs: round(median(latenciesMs)),
    p90LatencyMs: round(latenciesMs[Math.floor(latenciesMs.length * 0.9)]!),
    paymentsPerSecond: round(payments / elapsedS),
    medianStageMs: {
      identify: round(median(stageUs.identifyUs) / 1000),
      authorize: round(median(stageUs.authorizeUs) / 1000),
      business: round(median(stageUs.businessUs) / 1000),
      capture: round(median(stageUs.settleUs) / 1000),
    },
  };
}

function renderSummary(summary: Summary): string {
  const lines = ['', 'biopay demo: summary', ''];
  for (const step of summary.steps) {
    lines.push(`${step.asScripted ? 'ok  ' : 'FAIL'} ${step.outcome.padEnd(8)} ${step.name} [${step.latencyMs} ms]`);
    for (const reason of step.reasons) lines.push(`              ${reason.code}: ${reason.message}`);
  }
  lines.push('', 'balances (EUR):');
  for (const account of summary.balances) lines.push(`  ${account.owner.padEnd(8)} ${account.balance.padStart(10)}  (available ${account.available})`);
  lines.push('', `money conserved: ${summary.moneyConserved ? 'yes' : `NO: ${summary.invariantProblems.join('; ')}`}`);
  const loop = summary.loop;
  lines.push(`payment loop: ${loop.approved}/${loop.payments} approved, median ${loop.medianLatencyMs} ms, p90 ${loop.p90LatencyMs} ms, ${loop.paymentsPerSecond} payments/s (one at a time)`);
  const stages = loop.medianStageMs;
  lines.push(`  median per stage: identify ${stages.identify} ms, authorize ${stages.authorize} ms, business ${stages.business} ms, capture ${stages.capture} ms`);
  lines.push('', summary.allAsScripted ? 'every step ended as scripted.' : 'SOME STEPS DID NOT END AS SCRIPTED.');
  return lines.join('\n');
}

function template(name: string): Buffer {
  return readFileSync(demoTemplatePath(name));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
