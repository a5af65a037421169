/** The `biopay` command: runs networks and nodes, and talks to a running gateway. */
import { asBiopayError } from '../core/errors.js';
import { clientCommands } from './client/index.js';
import { demoCommand } from './demo.js';
import { devCommand } from './dev.js';
import { ExitCode, processIo, toJson, type CommandIo } from './io.js';
import { loadCommand } from './load.js';
import { matchCommand } from './match.js';
import { nodeCommand } from './node.js';
import { sensorCommand } from './sensor.js';
import { statusCommand } from './status.js';
import { synthCommand } from './synth.js';

interface Command {
  readonly summary: string;
  run(argv: string[], io: CommandIo): Promise<number>;
}

const commands: Record<string, Command> = {
  demo: { summary: 'run the embedded network through a scripted story and print a summary', run: demoCommand },
  dev: { summary: 'run the embedded network until stopped (data kept in a folder)', run: devCommand },
  node: { summary: 'run one node role (terminal, association, account, business, gateway)', run: nodeCommand },
  status: { summary: 'list the nodes of a running network with their roles and counters (NATS micro service "biopay")', run: statusCommand },
  load: { summary: 'drive a network with virtual terminals at a set rate; latency, throughput, ledger check', run: loadCommand },
  sensor: { summary: 'simulate a terminal\'s sensors: publish one touch and print the payment result', run: sensorCommand },
  synth: { summary: 'write a synthetic fingerprint population (FVC-named ISO records) for scale tests', run: synthCommand },
  match: { summary: 'fingerprint matching tools: scores, identify, eval-fvc, calibrate', run: matchCommand },
  ...clientCommands,
};

function help(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`);
  return [
    'Usage: biopay <command> [options]   (biopay <command> --help for its options)',
    '',
    'biopay: a distributed runtime for biometric payment networks.',
    '',
    'Commands:',
    ...lines,
    '',
    'Every command takes --help; most take --json for one JSON object on stdout.',
    'Exit codes: 0 done, 1 failed, 2 usage error.',
  ].join('\n');
}

/** Longest command path first: `account open` before `account`. */
function findCommand(argv: string[]): { command: Command; rest: string[] } | undefined {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ');
    const command = commands[name];
    if (command && argv.length >= words) return { command, rest: argv.slice(words) };
  }
  return undefined;
}

export async function main(argv: string[], io: CommandIo = processIo): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout(help());
    return argv.length === 0 ? ExitCode.Usage : ExitCode.Ok;
  }
  const found = findCommand(argv);
  if (!found) {
    io.stderr(`biopay: unknown command "${argv.slice(0, 2).join(' ')}"\n\n${help()}`);
    return ExitCode.Usage;
  }
  const json = argv.includes('--json');
  try {
    return await found.command.run(found.rest, io);
  } catch (error) {
    const reason = asBiopayError(error);
    if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`biopay: ${(error as Error).message}`);
      return ExitCode.Usage;
    }
    // With --json the error is the one object on stdout, as the client commands print theirs.
    if (json) io.stdout(toJson({ ok: false, error: { code: reason.code, message: reason.message } }));
    else io.stderr(`biopay: ${reason.code}: ${reason.message}`);
    return ExitCode.Failed;
  }
}
