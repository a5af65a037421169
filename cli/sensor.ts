/**
 * `biopay sensor`: a terminal's sensor array, simulated. Publishes the sensor events of one touch
 * (fingerprint readings from an ISO/IEC 19794-2 file, optionally a face embedding) to a running
 * network and prints the payment result the terminal node answers with.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { formatAmount, parseAmount } from '../core/money.js';
import { connectNats } from '../core/transport/nats.js';
import { touchAndWait } from '../core/terminal/sensor-simulator.js';
import { describeOutcome } from '../core/terminal/outcome.js';
import { ExitCode, NATS_OPTION_HELP, natsOption, toJson, type CommandIo } from './io.js';

const HELP = `Usage: biopay sensor --terminal T1 --template FILE.iso --amount 12.34 [--currency EUR]
                     [--face-dimension N] [--hint H] [--nats URL] [--timeout-ms N] [--json]

Publishes the sensor events of one touch at a terminal, as its sensor array would, and waits for
the payment result. Exit code 0 when a result came back (approved, refused or voided), 1 when none
came within the timeout, 2 on a usage error.

  --terminal T      terminal id (registered in the network)
  --template FILE   ISO/IEC 19794-2 finger minutiae record read by the fingerprint sensor
  --amount D        amount asked, a decimal in the currency
  --currency C      ISO 4217 code (default EUR)
  --face-dimension N  also publish a face embedding of N values (a camera beside the sensor)
  --hint H          narrowing hint (e.g. the merchant's community)
${NATS_OPTION_HELP}
  --timeout-ms N    how long to wait for the result (default 10000)
  --json            print the result as one JSON object`;

export async function sensorCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      terminal: { type: 'string' },
      template: { type: 'string' },
      amount: { type: 'string' },
      currency: { type: 'string', default: 'EUR' },
      'face-dimension': { type: 'string' },
      hint: { type: 'string', default: '' },
      nats: natsOption(),
      'timeout-ms': { type: 'string', default: '10000' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    io.stdout(HELP);
    return ExitCode.Ok;
  }
  const timeoutMs = Number(values['timeout-ms']);
  const faceDimension = values['face-dimension'] === undefined ? 0 : Number(values['face-dimension']);
  if (!values.terminal || !values.template || !values.amount || !Number.isInteger(timeoutMs) || timeoutMs < 1
    || !Number.isInteger(faceDimension) || faceDimension < 0 || faceDimension > 4096) {
    io.stderr(`biopay sensor: --terminal, --template and --amount are required\n\n${HELP}`);
    return ExitCode.Usage;
  }
  const amount = { amountMinor: parseAmount(values.amount, values.currency), currency: values.currency };
  const nc = await connectNats({ servers: values.nats.split(','), name: 'biopay-sensor' });
  try {
    const result = await touchAndWait(nc, {
      terminalId: values.terminal, sessionId: randomUUID(), isoTemplate: readFileSync(values.template), amount,
      hint: values.hint, faceEmbedding: faceDimension > 0 ? unitVector(faceDimension) : undefined,
    }, timeoutMs);
    const outcome = describeOutcome(result.outcome);
    io.stdout(values.json
      ? toJson({
          paymentId: result.paymentId, outcome, amount: formatAmount(amount.amountMinor, amount.currency),
          currency: amount.currency, accountId: result.accountId, credentialId: result.credentialId,
          reasons: result.refusals, timingsUs: result.timings,
        })
      : [`${outcome}: ${formatAmount(amount.amountMinor, amount.currency)} ${amount.currency} at ${values.terminal}`,
         ...result.refusals.map((refusal) => `  ${refusal.code}: ${refusal.message}`)].join('\n'));
    return ExitCode.Ok;
  } finally {
    await nc.drain();
  }
}

/** A camera's embedding, simulated: unit length, as real face models emit. */
function unitVector(dimension: number): number[] {
  const values = Array.from({ length: dimension }, () => Math.random() - 0.5);
  const norm = Math.hypot(...values) || 1;
  return values.map((value) => value / norm);
}
