/** How commands write: injected so tests can capture output. */
export interface CommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const processIo: CommandIo = {
  stdout: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  stderr: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

/** Exit codes: 0 done, 1 failed (the network refused or could not be reached), 2 usage error. */
export const ExitCode = { Ok: 0, Failed: 1, Usage: 2 } as const;

/** JSON with bigint as decimal strings (the CLI prints amounts already formatted). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner) => (typeof inner === 'bigint' ? inner.toString() : inner));
}

const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** The --nats flag of the commands that join a running network; its default is read when parsed. */
export function natsOption(): { type: 'string'; default: string } {
  return { type: 'string', default: process.env.BIOPAY_NATS_URL ?? DEFAULT_NATS_URL };
}

/** Its line in those commands' --help. */
export const NATS_OPTION_HELP = `  --nats URL        NATS server(s), comma-separated (env BIOPAY_NATS_URL; default ${DEFAULT_NATS_URL})`;
