/**
 * End-to-end benchmark: the embedded network (nats-server child, PGlite, every role in this
 * process, 2 matcher threads) under a short fixed open-loop load from `biopay load`'s driver.
 * Workload: 200 synthetic fingers enrolled over 100 accounts, 10 terminals, one community (hint
 * on), the default mix (80% approved, 8% restricted, 2% no funds, 5% unknown finger, 5% jammed
 * dispenser), Poisson arrivals at RATE/s, 2 s warm-up then 10 s measured, repeated `runs` times on
 * the same population; the figures are medians over runs. The ledger is checked at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorSystem } from '../core/actors/index.js';
import { checkLedger } from '../core/load/ledger-check.js';
import { LoadDriver } from '../core/load/driver.js';
import { DEFAULT_MIX } from '../core/load/mix.js';
import { runPhase, type PhaseOutcome } from '../core/load/phase.js';
import { DEFAULT_ENROLL_IMPRESSIONS, setupPopulation } from '../core/load/setup.js';
import { silentLogger } from '../core/log.js';
import { ActorKind, LedgerProtocol } from '../core/protocols.js';
import { connectNats } from '../core/transport/nats.js';
import { startEmbedded } from '../cli/embedded.js';

const RATE = 20;
const WARMUP_S = 2;
const DURATION_S = 10;
const ENROLLED = 200;
const ACCOUNTS = 100;
const TERMINALS = 10;
const AMOUNT_MINOR = 100n;

export async function runE2eBench(options: { json: boolean; runs: number }): Promise<Record<string, unknown>> {
  const progress = options.json ? () => undefined : (line: string) => process.stderr.write(`${line}\n`);
  const dataDir = mkdtempSync(join(tmpdir(), 'biopay-bench-e2e-'));
  const embedded = await startEmbedded({ dataDir, grpcPort: 0, log: silentLogger(), matchWorkers: 2 });
  const nc = await connectNats({ servers: embedded.nats.url, name: 'biopay-bench-e2e' });
  try {
    const system = new ActorSystem({ nodeId: 'biopay-bench-e2e', nats: nc });
    const runId = `b${Date.now().toString(36)}`;
    const population = await setupPopulation(system, {
      runId, seed: 20_261_122, currency: 'EUR', amountMinor: AMOUNT_MINOR, depositMinor: 1_000_000n * AMOUNT_MINOR,
      accounts: ACCOUNTS, enrolled: ENROLLED, terminals: TERMINALS, communitySize: 1000, mix: DEFAULT_MIX, hint: true,
      enrollImpressions: DEFAULT_ENROLL_IMPRESSIONS, progress,
    });
    const driver = new LoadDriver(nc, population, { mix: DEFAULT_MIX, seed: 7, resultTimeoutMs: 15_000, runId });
    driver.start();
    const phases: PhaseOutcome[] = [];
    try {
      for (let run = 0; run < options.runs; run++) {
        phases.push(await runPhase(driver, {
          rate: RATE, warmupS: WARMUP_S, durationS: DURATION_S, arrival: 'poisson', inFlightMax: 10_000, seed: 100 + run,
          label: `e2e run ${run + 1}/${options.runs}`, progress,
        }));
      }
    } finally {
      await driver.stop();
    }
    const ledger = await checkLedger({
      ledger: system.client(ActorKind.Ledger, LedgerProtocol), payments: driver.ledgerLog, amountMinor: AMOUNT_MINOR,
      customers: population.customers, merchants: population.merchants, settleWaitMs: 30_000,
    });
    const measured = phases.map((phase) => phase.measured);
    return {
      workload: `embedded network, ${ENROLLED} enrolled / ${ACCOUNTS} accounts / ${population.terminals.length} terminals, hint on, default mix, `
        + `Poisson ${RATE}/s, ${WARMUP_S} s warm-up + ${DURATION_S} s measured, median of ${options.runs} runs`,
      setupS: Math.round(population.setupMs / 100) / 10,
      approvedPerSecond: median(measured.map((m) => m.approvedPerSecond)),
      completedPerSecond: median(measured.map((m) => m.completedPerSecond)),
      p50Ms: median(measured.map((m) => m.p50Ms)),
      p90Ms: median(measured.map((m) => m.p90Ms)),
      p99Ms: median(measured.map((m) => m.p99Ms)),
      p999Ms: median(measured.map((m) => m.p999Ms)),
      identifyP50Ms: median(measured.map((m) => m.latency.stages.identify.p50Ms)),
      authorizeP50Ms: median(measured.map((m) => m.latency.stages.authorize.p50Ms)),
      businessP50Ms: median(measured.map((m) => m.latency.stages.business.p50Ms)),
      settleP50Ms: median(measured.map((m) => m.latency.stages.settle.p50Ms)),
      errorsPerRun: measured.map((m) => m.errorCount),
      ledgerCheckPassed: ledger.passed,
      ledgerProblems: ledger.problemCount,
    };
  } finally {
    await nc.drain().catch(() => undefined);
    await embedded.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
