/**
 * `biopay synth`: writes a synthetic fingerprint population as FVC-style ISO/IEC 19794-2 records
 * (FINGER_IMPRESSION.iso, fingers and impressions numbered from 1), for scale and load tests.
 * The same seed always writes the same bytes.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeIsoRecord } from '../core/biometrics/iso.js';
import { generatePopulation } from '../core/biometrics/synthetic/population.js';
import { BiopayError, ErrorCode } from '../core/errors.js';
import { ExitCode, toJson, type CommandIo } from './io.js';

const usage = `Usage: biopay synth --fingers N --impressions K --seed S --out DIR [--force] [--json]

Writes K impressions of each of N synthetic fingers as DIR/FINGER_IMPRESSION.iso
(ISO/IEC 19794-2:2005 minutiae records, 300 x 400 px at 197 px/cm, fingers and impressions
numbered from 1). The same seed always gives the same files. Progress goes to stderr.

Options:
  --fingers N      fingers to generate (1-${(10_000_000).toLocaleString('en-US')})
  --impressions K  impressions per finger (1-1000)
  --seed S         population seed, a non-negative integer
  --out DIR        output folder (created if missing)
  --force          write into a folder that already holds .iso files
  --json           print one JSON summary object on stdout
  --help           this text`;

const maxRecords = 10_000_000;
/** Progress lines: about this many per run, and never more often than every 1,000 records. */
const progressSteps = 10;
const minProgressStep = 1000;

interface SynthArgs {
  fingers: number;
  impressions: number;
  seed: number;
  out: string;
  force: boolean;
  json: boolean;
}

function usageError(message: string): BiopayError {
  return new BiopayError(ErrorCode.BadRequest, message);
}

function integerOption(text: string | undefined, name: string, low: number, high: number): number {
  if (text === undefined || text === '') throw usageError(`--${name} is required`);
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < low || value > high) {
    throw usageError(`--${name} must be an integer in [${low}, ${high}], got "${text}"`);
  }
  return value;
}

function parseSynthArgs(argv: string[]): SynthArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      fingers: { type: 'string' },
      impressions: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      force: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  const fingers = integerOption(values.fingers, 'fingers', 1, maxRecords);
  const impressions = integerOption(values.impressions, 'impressions', 1, 1000);
  if (fingers * impressions > maxRecords) throw usageError(`at most ${maxRecords} records per run (fingers x impressions)`);
  const seed = integerOption(values.seed, 'seed', 0, Number.MAX_SAFE_INTEGER);
  if (values.out === undefined || values.out === '') throw usageError('--out is required');
  return { fingers, impressions, seed, out: values.out, force: values.force === true, json: values.json === true };
}

/** Refuses to mix two populations in one folder unless asked: evaluations would pair them up. */
function prepareFolder(out: string, force: boolean): void {
  mkdirSync(out, { recursive: true });
  if (!force && readdirSync(out).some((name) => name.endsWith('.iso'))) {
    throw usageError(`${out} already holds .iso files (use --force to write over them)`);
  }
}

function writePopulation(args: SynthArgs, io: CommandIo): { records: number; bytes: number; minutiae: number } {
  const total = args.fingers * args.impressions;
  const step = Math.max(minProgressStep, Math.ceil(total / progressSteps));
  let records = 0;
  let bytes = 0;
  let minutiae = 0;
  for (const { fingerId, impression, record } of generatePopulation({ fingers: args.fingers, impressionsPerFinger: args.impressions, seed: args.seed })) {
    const encoded = writeIsoRecord(record);
    writeFileSync(join(args.out, `${fingerId}_${impression}.iso`), encoded);
    records++;
    bytes += encoded.length;
    minutiae += record.views[0]!.minutiae.length;
    if (records % step === 0 && records < total) io.stderr(`synth: ${records}/${total} records`);
  }
  return { records, bytes, minutiae };
}

function isUsageError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return (error instanceof BiopayError && error.code === ErrorCode.BadRequest) || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'));
}

export async function synthCommand(argv: string[], io: CommandIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout(usage);
    return ExitCode.Ok;
  }
  let args: SynthArgs;
  try {
    args = parseSynthArgs(argv);
    prepareFolder(args.out, args.force);
  } catch (error) {
    if (!isUsageError(error)) throw error;
    io.stderr(`biopay synth: ${(error as Error).message}\n\n${usage}`);
    return ExitCode.Usage;
  }
  const started = performance.now();
  const written = writePopulation(args, io);
  const elapsedMs = Math.round(performance.now() - started);
  const summary = {
    out: args.out,
    seed: args.seed,
    fingers: args.fingers,
    impressionsPerFinger: args.impressions,
    records: written.records,
    bytes: written.bytes,
    meanMinutiae: Number((written.minutiae / written.records).toFixed(1)),
    elapsedMs,
    recordsPerSecond: Math.round(written.records / Math.max(elapsedMs / 1000, 1e-3)),
  };
  if (args.json) io.stdout(toJson(summary));
  else io.stdout(`${summary.records} records (${summary.meanMinutiae} minutiae on average) written to ${summary.out} in ${(elapsedMs / 1000).toFixed(1)} s`);
  return ExitCode.Ok;
}
