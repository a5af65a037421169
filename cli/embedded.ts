/**
 * The embedded network on one machine: a nats-server child with JetStream, the ledger on PGlite
 * and every node role in this process. Used by `biopay demo` (temporary data) and `biopay dev`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TemplateSealer } from '../core/association/template-crypto.js';
import type { Logger } from '../core/log.js';
import { startNatsServerProcess, type NatsServerProcess } from '../core/transport/nats-server-process.js';
import { ROLES, startNetwork, type Network } from '../nodes/network.js';
import { packageVersion } from './paths.js';

const EMBEDDED_NATS_GO_MAX_PROCS = 1;

export interface EmbeddedOptions {
  /** Holds the JetStream store, the PGlite database and the template key. */
  readonly dataDir: string;
  readonly grpcPort: number;
  readonly log: Logger;
  /** PostgreSQL instead of PGlite. */
  readonly databaseUrl?: string;
  /** The ledger's PostgreSQL schema (default: the database's search path). */
  readonly databaseSchema?: string;
  readonly matchWorkers?: number;
  /** Fingerprint templates compared in full per identify (default 600) and per hinted one (default: a community of up to 3,000 whole). */
  readonly candidates?: number;
  readonly hintedCandidates?: number;
  /** Fewer candidates while identifies queue (MatchEngine `brownout`, default false). */
  readonly brownout?: boolean;
  readonly natsPort?: number;
  /** The ledger's group commit cadence while busy (default GROUP_COMMIT_DEFAULTS.batchIntervalMs). */
  readonly commitIntervalMs?: number;
  /** The terminal node's wait target for a standing identify queue (default 50 ms). */
  readonly identifyWaitTargetMs?: number;
}

export interface Embedded {
  readonly nats: NatsServerProcess;
  readonly network: Network;
  stop(): Promise<void>;
}

export async function startEmbedded(options: EmbeddedOptions): Promise<Embedded> {
  mkdirSync(options.dataDir, { recursive: true });
  // One Go thread: beside the nodes, PostgreSQL and the matcher threads on a small machine, a second
  // one mostly spins waiting for work. Hinted load, 2,000 enrolled, interleaved pairs on 2 cores:
  // nats-server CPU per payment 0.46 -> 0.39 ms at 400/s (5 pairs) and 0.36 -> 0.31 ms at 600/s (3).
  const nats = await startNatsServerProcess({
    jetstream: true, storeDir: join(options.dataDir, 'nats'), port: options.natsPort, goMaxProcs: EMBEDDED_NATS_GO_MAX_PROCS,
  });
  try {
    const network = await startNetwork({
      roles: ROLES,
      natsUrl: nats.url,
      log: options.log,
      databaseUrl: options.databaseUrl,
      databaseSchema: options.databaseSchema,
      dataDir: join(options.dataDir, 'ledger'),
      grpcPort: options.grpcPort,
      sealer: TemplateSealer.fromBase64(templateKey(options.dataDir)),
      matchWorkers: options.matchWorkers,
      associationCandidates: options.candidates, associationHintedCandidates: options.hintedCandidates,
      associationBrownout: options.brownout,
      ledgerCommitIntervalMs: options.commitIntervalMs,
      terminalIdentifyWaitTargetMs: options.identifyWaitTargetMs,
      nodeName: `biopay-embedded-${process.pid}`,
      version: packageVersion(),
    });
    return {
      nats,
      network,
      async stop() {
        await network.stop();
        await nats.stop();
      },
    };
  } catch (error) {
    await nats.stop();
    throw error;
  }
}

/** The environment's key when set; otherwise one kept (owner-only) in the data folder. */
function templateKey(dataDir: string): string {
  if (process.env.BIOPAY_TEMPLATE_KEY) return process.env.BIOPAY_TEMPLATE_KEY;
  const file = process.env.BIOPAY_TEMPLATE_KEY_FILE ?? join(dataDir, 'template.key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const key = TemplateSealer.generateKeyBase64();
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}
