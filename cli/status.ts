/**
 * `biopay status`: every node of a running network, found through NATS (each node process answers
 * as the `biopay` micro service), with its roles and counters.
 */
import { parseArgs } from 'node:util';
import type { NodeStatus } from '../core/status/node-status.js';
import { collectNodeStatuses, COLLECT_STALL_MS_DEFAULT, COLLECT_TIMEOUT_MS_DEFAULT } from '../core/status/status-client.js';
import { connectNats } from '../core/transport/nats.js';
import { ExitCode, NATS_OPTION_HELP, natsOption, toJson, type CommandIo } from './io.js';

const TIMEOUT_MS_MAX = 60_000;

const HELP = `Usage: biopay status [--nats URL] [--timeout-ms N] [--json]

Lists the biopay nodes of a running network: each node process (biopay node, biopay dev, the
embedded network of biopay load) answers as the NATS micro service "biopay", so \`nats micro ls\`
and \`nats micro stats biopay\` see them too. For each node: its roles, version, uptime, and the
counters of its roles (association: templates, matcher threads, identifies browned out; account:
ledger transactions and the requests they held; terminal: payments and identifies in flight).

${NATS_OPTION_HELP}
  --timeout-ms N    wait at most this long for answers; the wait ends ${COLLECT_STALL_MS_DEFAULT} ms after the last
                    answer (default ${COLLECT_TIMEOUT_MS_DEFAULT}; at most ${TIMEOUT_MS_MAX})
  --json            print {"nodes": [...], "skipped": N} as one JSON object
  --help            this text

Exit code 0 when at least one node answered, 1 when none did (or NATS was unreachable), 2 on a
usage error.`;

export async function statusCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      nats: natsOption(),
      'timeout-ms': { type: 'string', default: String(COLLECT_TIMEOUT_MS_DEFAULT) },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    io.stdout(HELP);
    return ExitCode.Ok;
  }
  const timeoutMs = Number(values['timeout-ms']);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > TIMEOUT_MS_MAX) {
    io.stderr(`biopay status: --timeout-ms must be an integer from 1 to ${TIMEOUT_MS_MAX}`);
    return ExitCode.Usage;
  }
  const nc = await connectNats({ servers: values.nats.split(','), name: 'biopay-status' });
  try {
    const collected = await collectNodeStatuses(nc, { timeoutMs });
    if (values.json) io.stdout(toJson(collected));
    else io.stdout(describeStatuses(collected.nodes, collected.skipped, values.nats));
    return collected.nodes.length > 0 ? ExitCode.Ok : ExitCode.Failed;
  } finally {
    await nc.drain().catch(() => undefined);
  }
}

/** One block per node: its identity line, then a line per role. */
export function describeStatuses(nodes: readonly NodeStatus[], skipped: number, nats: string): string {
  if (nodes.length === 0) return `no biopay node answered on ${nats}${skipped > 0 ? ` (${skipped} answers were not a biopay node's)` : ''}`;
  const lines = [`${nodes.length} node${nodes.length === 1 ? '' : 's'} on ${nats}${skipped > 0 ? ` (${skipped} other answers skipped)` : ''}`];
  for (const node of nodes) {
    lines.push('', `${node.node}  roles ${node.roles.join(',')}  pid ${node.pid}  version ${node.version}  up ${formatUptime(node.uptimeMs)}`);
    if (node.association) {
      const a = node.association;
      lines.push(`  association: partition ${a.partition}, ${a.templates} templates (${(a.galleryBytes / 1e6).toFixed(1)} MB), `
        + `${a.matcherThreads} matcher threads, brownout ${a.brownout ? 'on' : 'off'}, ${a.identifiesBrownedOut} identifies browned out`);
    }
    if (node.account) {
      const { ledgerTransactions, ledgerOperations } = node.account;
      const perTransaction = ledgerTransactions > 0 ? (ledgerOperations / ledgerTransactions).toFixed(2) : '-';
      lines.push(`  account: ${ledgerTransactions} ledger transactions holding ${ledgerOperations} requests (${perTransaction} per transaction)`);
    }
    if (node.terminal) {
      const t = node.terminal;
      lines.push(`  terminal: ${t.paymentsInFlight} payments in flight, identifies ${t.identifiesRunning} running / ${t.identifiesWaiting} waiting (limit ${t.identifyLimit})`);
    }
  }
  return lines.join('\n');
}

function formatUptime(uptimeMs: number): string {
  const seconds = Math.floor(uptimeMs / 1000);
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7_200) return `${Math.floor(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
