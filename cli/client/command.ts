/**
 * The frame every client command shares: flag parsing (node:util parseArgs) with --gateway, --json,
 * --timeout-ms and --help, one gateway client per run, one JSON object on stdout with --json, and the
 * exit codes: 0 done (a payment that ran counts as done, approved or not), 1 failed (the gateway
 * refused the request or could not be reached), 2 usage error (bad flags or values, unreadable file).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { asBiopayError, BiopayError, ErrorCode, isBiopayError } from '../../core/errors.js';
import { createGatewayClient, DEFAULT_CALL_TIMEOUT_MS, type GatewayClient } from '../../core/grpc/index.js';
import { ExitCode, toJson, type CommandIo } from '../io.js';

export const DEFAULT_GATEWAY = '127.0.0.1:50051';
export const GATEWAY_ENV = 'BIOPAY_GATEWAY';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;
export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** A mistake in the command line: exit code 2 and a pointer to --help. */
export class UsageError extends BiopayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.BadRequest, message, options);
    this.name = 'UsageError';
  }
}

/** Runs a local parse (an amount, a policy flag); its failure is the user's command line. */
export function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(asBiopayError(error).message, { cause: error });
  }
}

export interface CommandOutput {
  /** The one object printed with --json. */
  readonly json: Record<string, unknown>;
  /** What a person reads without --json. */
  readonly lines: readonly string[];
}

export interface CommandContext {
  readonly values: FlagValues;
  readonly positionals: readonly string[];
  readonly gateway: GatewayClient;
  readonly timeoutMs: number;
}

export interface ClientCommandSpec {
  /** `account deposit`, as typed after `biopay`. */
  readonly name: string;
  /** Usage lines and explanations shown by --help (the common flags are appended). */
  readonly help: string;
  readonly options?: OptionsConfig;
  /** Names of the required positional arguments, in order. */
  readonly positionals?: readonly string[];
  /** Checks before the gateway is called (exit 2 on failure). */
  validate?(values: FlagValues, positionals: readonly string[]): void;
  run(context: CommandContext): Promise<CommandOutput>;
}

export type ClientCommand = (argv: string[], io: CommandIo) => Promise<number>;

const COMMON_OPTIONS: OptionsConfig = {
  gateway: { type: 'string' },
  json: { type: 'boolean', default: false },
  'timeout-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
};

const COMMON_HELP = `
Common options:
  --gateway HOST:PORT  gateway to talk to (default $${GATEWAY_ENV}, else ${DEFAULT_GATEWAY})
  --json               print exactly one JSON object on stdout (amounts as decimal strings)
  --timeout-ms N       deadline of each call to the gateway (default ${DEFAULT_CALL_TIMEOUT_MS})
  -h, --help           this help
Exit codes: 0 done, 1 failed (refused by the network or gateway unreachable), 2 usage error.`;

export function clientCommand(spec: ClientCommandSpec): ClientCommand {
  return async (argv, io) => {
    const json = argv.includes('--json');
    let parsed: { values: FlagValues; positionals: string[] };
    try {
      parsed = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...spec.options }, allowPositionals: true, strict: true });
    } catch (error) {
      return fail(io, json, spec, new UsageError((error as Error).message, { cause: error }));
    }
    if (parsed.values.help) {
      io.stdout(`${spec.help.trim()}\n${COMMON_HELP}`);
      return ExitCode.Ok;
    }
    let gateway: GatewayClient | undefined;
    const address = gatewayAddress(parsed.values.gateway);
    try {
      checkPositionals(spec, parsed.positionals);
      spec.validate?.(parsed.values, parsed.positionals);
      const timeoutMs = usage(() => parseTimeout(parsed.values['timeout-ms']));
      gateway = usage(() => createGatewayClient(address));
      const output = await spec.run({ values: parsed.values, positionals: parsed.positionals, gateway, timeoutMs });
      io.stdout(json ? toJson({ ok: true, ...output.json }) : output.lines.join('\n'));
      return ExitCode.Ok;
    } catch (error) {
      return fail(io, json, spec, unreachableHint(error, address));
    } finally {
      gateway?.close();
    }
  };
}

function checkPositionals(spec: ClientCommandSpec, positionals: readonly string[]): void {
  const names = spec.positionals ?? [];
  if (positionals.length !== names.length) {
    const expected = names.length === 0 ? 'no arguments' : names.join(' ');
    throw new UsageError(`expected ${expected}, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`);
  }
}

function gatewayAddress(flag: FlagValues[string]): string {
  if (typeof flag === 'string' && flag !== '') return flag;
  const fromEnvironment = process.env[GATEWAY_ENV];
  return fromEnvironment !== undefined && fromEnvironment !== '' ? fromEnvironment : DEFAULT_GATEWAY;
}

function parseTimeout(text: FlagValues[string]): number {
  if (text === undefined) return DEFAULT_CALL_TIMEOUT_MS;
  const timeoutMs = typeof text === 'string' && /^\d{1,6}$/.test(text) ? Number(text) : NaN;
  if (!(timeoutMs >= 1)) throw new UsageError(`--timeout-ms must be a whole number of milliseconds, got "${String(text)}"`);
  return timeoutMs;
}

/** grpc-js's text for a refused connection names no remedy: say which gateway and how to pick another. */
function unreachableHint(error: unknown, address: string): unknown {
  if (!isBiopayError(error, ErrorCode.Unavailable) || !/No connection established/i.test(error.message)) return error;
  return new BiopayError(ErrorCode.Unavailable,
    `no gateway reachable at ${address} (start one with \`biopay dev\`, or pick it with --gateway or $${GATEWAY_ENV})`, { cause: error });
}

function fail(io: CommandIo, json: boolean, spec: ClientCommandSpec, error: unknown): number {
  const reason = asBiopayError(error);
  const isUsage = error instanceof UsageError;
  if (json) {
    io.stdout(toJson({ ok: false, error: { code: reason.code, message: reason.message } }));
  } else {
    io.stderr(`biopay ${spec.name}: ${isUsage ? '' : `${reason.code}: `}${reason.message}${isUsage ? ` (see biopay ${spec.name} --help)` : ''}`);
  }
  return isUsage ? ExitCode.Usage : ExitCode.Failed;
}

/** A string flag's value, or undefined when absent. */
export function stringFlag(values: FlagValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A string flag that must be given. */
export function requiredFlag(values: FlagValues, name: string): string {
  const value = stringFlag(values, name);
  if (value === undefined || value.trim() === '') throw new UsageError(`--${name} is required`);
  return value.trim();
}

/** A flag given several times (`--place A --place B`). */
export function listFlag(values: FlagValues, name: string): string[] | undefined {
  const value = values[name];
  if (!Array.isArray(value) || value.length === 0) return undefined;
  return value.filter((item): item is string => typeof item === 'string');
}
