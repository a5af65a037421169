/** `biopay node <role>`: one node role in this process, joined to a network over NATS. */
import { parseArgs } from 'node:util';
import { onShutdown } from '../core/lifecycle.js';
import { createLogger } from '../core/log.js';
import { parsePartition, type PartitionSpec } from '../core/association/partition.js';
import { checkDimension } from '../core/biometrics/embeddings/embedding-vector.js';
import { BiopayError, ErrorCode } from '../core/errors.js';
import { NODE_PROCESS_NAME_PREFIX, nameThisThread } from '../core/thread-names.js';
import { BATCH_INTERVAL_MS_MAX, GROUP_COMMIT_DEFAULTS } from '../core/ledger/index.js';
import { DEFAULT_MATCH_WORKERS } from '../nodes/association/node.js';
import { isRole, ROLES, startNetwork, type Role } from '../nodes/network.js';
import { DEFAULT_IDENTIFY_WAIT_TARGET_MS, IDENTIFY_WAIT_TARGET_MS_MAX } from '../nodes/terminal/node.js';
import { ExitCode, NATS_OPTION_HELP, natsOption, toJson, type CommandIo } from './io.js';
import { packageVersion } from './paths.js';

/** What ps, top and `biopay load`'s CPU breakdown call a node's process (Linux keeps 15 bytes). */
const PROCESS_NAMES: Record<Role, string> = {
  terminal: `${NODE_PROCESS_NAME_PREFIX}terminal`, association: `${NODE_PROCESS_NAME_PREFIX}assoc`, account: `${NODE_PROCESS_NAME_PREFIX}account`,
  business: `${NODE_PROCESS_NAME_PREFIX}business`, gateway: `${NODE_PROCESS_NAME_PREFIX}gateway`,
};

const HELP = `Usage: biopay node <${ROLES.join('|')}> --nats URL [--database URL] [--data DIR]
                   [--grpc-port N] [--workers N] [--partition p/P] [--target-fmr X] [--target-fpir X]
                   [--candidates N] [--hinted-candidates N] [--brownout] [--face-dimension N] [--palm-dimension N]
                   [--commit-interval-ms N] [--fail-business] [--terminals IDS]
                   [--identify-wait-target-ms N] [--json]

Runs one node role until SIGINT/SIGTERM, then drains and stops cleanly.

${NATS_OPTION_HELP}
  --database URL    account role: postgres://... (env DATABASE_URL); PGlite in --data otherwise
  --schema NAME     account role: PostgreSQL schema of the ledger tables (default: public)
  --data DIR        account role: PGlite data folder (default: in memory)
  --commit-interval-ms N
                    account role: while busy, the ledger starts a transaction at most every N ms,
                    so more payments share one (0: as soon as the last one ends; default ${GROUP_COMMIT_DEFAULTS.batchIntervalMs})
  --grpc-port N     gateway role: port (default 50051)
  --workers N       association role: matcher worker threads (default ${DEFAULT_MATCH_WORKERS})
  --partition p/P   association role: keep gallery partition p of P (credential id hashed);
                    identify and enrollment dedupe ask every partition (default 0/1: all)
  --target-fmr X    association role: false match rate decisions target when a request names
                    none, and enrollment dedupe uses (default 1e-4)
  --target-fpir X   association role: false positive identification rate a fingerprint 1:N
                    decision is held to over the templates searched (default 1e-3)
  --candidates N    association role: fingerprint templates compared in full per identify over
                    everyone, chosen by the candidate index (default 600, shared by partitions)
  --hinted-candidates N
                    association role: fingerprint templates compared in full per identify
                    narrowed by a terminal's hint, chosen by the candidate index (default: a
                    community of up to 3,000 is compared whole; 150 costs about a third of the
                    CPU at a community of 1,000 for ~2 points of identification rate)
  --brownout        association role: once the oldest identify in flight has waited over
                    20 ms for the matcher threads, new ones compare fewer index candidates
                    (down to a quarter): a shorter queue for a few more payers not found
  --face-dimension N
                    association role: face embedding dimension (default 512; the same on every
                    association node and every camera: a capture of another size is refused)
  --palm-dimension N
                    association role: palm embedding dimension (default 256; likewise)
  --fail-business   business role: the simulated device fails every command
  --terminals IDS   terminal role: comma-separated terminals whose sensors this node serves
                    (give each terminal node its own when running several; default all)
  --identify-wait-target-ms N
                    terminal role: once the identify queue has stood 200 ms (sustained
                    overload), touches that waited longer than N ms are refused (UNAVAILABLE)
                    at their turn and newer ones served: the touches served wait N ms at most
                    (1-${IDENTIFY_WAIT_TARGET_MS_MAX}; default ${DEFAULT_IDENTIFY_WAIT_TARGET_MS}; ${IDENTIFY_WAIT_TARGET_MS_MAX} leaves about the 200 ms bound alone)
  --json            print the started node as one JSON object
  --help            this text

The association role needs BIOPAY_TEMPLATE_KEY (base64 of 32 bytes) or BIOPAY_TEMPLATE_KEY_FILE.`;

export async function nodeCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      nats: natsOption(),
      database: { type: 'string', default: process.env.DATABASE_URL },
      schema: { type: 'string' },
      data: { type: 'string' },
      'commit-interval-ms': { type: 'string', default: String(GROUP_COMMIT_DEFAULTS.batchIntervalMs) },
      'grpc-port': { type: 'string', default: '50051' },
      workers: { type: 'string', default: String(DEFAULT_MATCH_WORKERS) },
      partition: { type: 'string', default: '0/1' },
      'target-fmr': { type: 'string' },
      'target-fpir': { type: 'string' },
      candidates: { type: 'string' },
      'hinted-candidates': { type: 'string' },
      brownout: { type: 'boolean', default: false },
      'face-dimension': { type: 'string' },
      'palm-dimension': { type: 'string' },
      'fail-business': { type: 'boolean', default: false },
      terminals: { type: 'string', default: '' },
      'identify-wait-target-ms': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    io.stdout(HELP);
    return ExitCode.Ok;
  }
  const role = positionals[0];
  if (!role || !isRole(role) || positionals.length > 1) {
    io.stderr(`biopay node: expected one role of ${ROLES.join(', ')}\n\n${HELP}`);
    return ExitCode.Usage;
  }
  const grpcPort = Number(values['grpc-port']);
  const workers = Number(values.workers);
  const commitIntervalMs = Number(values['commit-interval-ms']);
  if (!Number.isInteger(grpcPort) || !Number.isInteger(workers) || workers < 0 || workers > 64) {
    io.stderr('--grpc-port must be a port number and --workers an integer from 0 to 64');
    return ExitCode.Usage;
  }
  if (!Number.isInteger(commitIntervalMs) || commitIntervalMs < 0 || commitIntervalMs > BATCH_INTERVAL_MS_MAX) {
    io.stderr(`--commit-interval-ms must be an integer from 0 to ${BATCH_INTERVAL_MS_MAX}`);
    return ExitCode.Usage;
  }
  const waitTarget = values['identify-wait-target-ms'];
  const identifyWaitTargetMs = waitTarget === undefined ? undefined : Number(waitTarget);
  if (identifyWaitTargetMs !== undefined && (!Number.isInteger(identifyWaitTargetMs) || identifyWaitTargetMs < 1 || identifyWaitTargetMs > IDENTIFY_WAIT_TARGET_MS_MAX)) {
    io.stderr(`--identify-wait-target-ms must be an integer from 1 to ${IDENTIFY_WAIT_TARGET_MS_MAX}`);
    return ExitCode.Usage;
  }
  let association;
  try {
    association = {
      ...associationOptions(values.partition, values['target-fmr'], values['target-fpir'], values['face-dimension'], values['palm-dimension']),
      associationCandidates: candidateCount(values.candidates, '--candidates'),
      associationHintedCandidates: candidateCount(values['hinted-candidates'], '--hinted-candidates'),
      associationBrownout: values.brownout,
    };
  } catch (error) {
    io.stderr((error as Error).message);
    return ExitCode.Usage;
  }
  nameThisThread(PROCESS_NAMES[role]);
  const log = createLogger({ fields: { role } });
  const network = await startNetwork({
    roles: [role], natsUrl: values.nats.split(','), log, databaseUrl: values.database, databaseSchema: values.schema, dataDir: values.data,
    grpcPort, matchWorkers: workers, ledgerCommitIntervalMs: commitIntervalMs, ...association, businessFailAll: values['fail-business'],
    sensorTerminalIds: values.terminals.split(',').map((id) => id.trim()).filter((id) => id !== ''),
    terminalIdentifyWaitTargetMs: identifyWaitTargetMs, version: packageVersion(),
  });
  const started = {
    role, pid: process.pid, nats: values.nats, grpcPort: network.grpcPort ?? null,
    ...(role === 'association' ? { partition: values.partition } : {}),
    ...(role === 'account' ? { commitIntervalMs } : {}),
    ...(role === 'terminal' ? { identifyWaitTargetMs: identifyWaitTargetMs ?? DEFAULT_IDENTIFY_WAIT_TARGET_MS } : {}),
  };
  io.stdout(values.json ? toJson({ ready: true, ...started }) : `biopay ${role} node ready (pid ${process.pid})`);
  await new Promise<void>((resolve) => {
    onShutdown(async () => {
      log.info('draining');
      await network.stop();
      resolve();
    });
  });
  return ExitCode.Ok;
}

/** The association role's flags, checked (BAD_REQUEST errors name the rule broken). */
function associationOptions(partition: string, targetFmr: string | undefined, targetFpir: string | undefined, faceDim: string | undefined, palmDim: string | undefined): {
  associationPartition: PartitionSpec; associationTargetFmr: number | undefined; associationTargetFpir: number | undefined;
  embeddingDimensions: { face?: number; palm?: number };
} {
  const dimension = (text: string | undefined) => (text === undefined ? undefined : checkDimension(Number(text)));
  return {
    associationPartition: parsePartition(partition),
    associationTargetFmr: rate(targetFmr, '--target-fmr'), associationTargetFpir: rate(targetFpir, '--target-fpir'),
    embeddingDimensions: { face: dimension(faceDim), palm: dimension(palmDim) },
  };
}

function candidateCount(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 1_000_000) throw new BiopayError(ErrorCode.BadRequest, `${flag} must be an integer from 1 to 1000000`);
  return value;
}

function rate(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!(value > 0 && value < 1)) throw new BiopayError(ErrorCode.BadRequest, `${flag} must be a number in (0, 1)`);
  return value;
}
