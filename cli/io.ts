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
