/**
 * `biopay dev`: the embedded network, long-running, data kept in a folder. Starts with a demo
 * merchant owning terminal T1 so client commands work at once.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AccountKind } from '../proto/gen/biopay/v1/ledger.js';
import { onShutdown } from '../core/lifecycle.js';
import { createLogger } from '../core/log.js';
import { ActorKind, LedgerProtocol, TerminalProtocol } from '../core/protocols.js';
import { startEmbedded } from './embedded.js';
import { ExitCode, toJson, type CommandIo } from './io.js';

const HELP = `Usage: biopay dev [--data DIR] [--grpc-port N] [--nats-port N] [--database URL] [--json]

Runs the embedded biopay network until SIGINT/SIGTERM: nats-server with JetStream, the ledger on
PGlite (or PostgreSQL with --database), every node role, and the gRPC gateway. Data is kept in DIR
(default ./.biopay). A demo merchant account owning terminal T1 exists from the start.

  --data DIR        data folder (default .biopay)
  --grpc-port N     gateway port (default 50051)
  --nats-port N     NATS client port (default: a free one)
  --database URL    postgres://... instead of the embedded PGlite
  --json            print the started network's addresses as one JSON object
  --help            this text`;

export async function devCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string', default: '.biopay' },
      'grpc-port': { type: 'string', default: '50051' },
      'nats-port': { type: 'string' },
      database: { type: 'string', default: process.env.DATABASE_URL },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    io.stdout(HELP);
    return ExitCode.Ok;
  }
  const grpcPort = Number(values['grpc-port']);
  const natsPort = values['nats-port'] === undefined ? undefined : Number(values['nats-port']);
  if (!Number.isInteger(grpcPort) || grpcPort < 0 || grpcPort > 65535 || (natsPort !== undefined && !Number.isInteger(natsPort))) {
    io.stderr('--grpc-port and --nats-port must be port numbers');
    return ExitCode.Usage;
  }
  const dataDir = resolve(values.data);
  io.stderr(`starting biopay dev network, data in ${dataDir} ...`);
  const embedded = await startEmbedded({
    dataDir, grpcPort, natsPort, databaseUrl: values.database, log: createLogger(),
  });
  const merchant = await ensureDemoMerchant(embedded.network.system);
  const started = {
    grpc: `127.0.0.1:${embedded.network.grpcPort}`,
    nats: embedded.nats.url,
    dataDir,
    demoMerchantAccountId: merchant,
    terminal: 'T1',
  };
  io.stdout(values.json ? toJson(started) : [
    `biopay dev is running.`,
    `  gRPC gateway : ${started.grpc}`,
    `  NATS         : ${started.nats}`,
    `  data         : ${dataDir}`,
    `  terminal T1 pays into the demo merchant account ${merchant}`,
    `Try: biopay account open --owner Alice --currency EUR`,
  ].join('\n'));
  await new Promise<void>((resolveStopped) => {
    onShutdown(async () => {
      await embedded.stop();
      resolveStopped();
    });
  });
  return ExitCode.Ok;
}

async function ensureDemoMerchant(system: import('../core/actors/index.js').ActorSystem): Promise<string> {
  const ledger = system.client(ActorKind.Ledger, LedgerProtocol);
  const terminals = system.client(ActorKind.Terminal, TerminalProtocol);
  const merchant = await ledger.ask('demo-merchant', 'openAccount', {
    owner: 'Demo merchant', currency: 'EUR', kind: AccountKind.ACCOUNT_KIND_MERCHANT, timeZone: 'Europe/Berlin',
    idempotencyKey: 'dev-demo-merchant',
  });
  await terminals.ask('T1', 'registerTerminal', {
    terminal: { terminalId: 'T1', merchantAccountId: merchant.accountId, location: undefined, action: 'open-gate', hint: '', item: '' },
  });
  return merchant.accountId;
}
