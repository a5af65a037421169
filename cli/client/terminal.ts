/** `biopay terminal register T1 --merchant ACCOUNT`: a terminal and the merchant account it pays into. */
import { RegisterTerminalRequest, type Terminal } from '../../proto/gen/biopay/v1/payment.js';
import { clientCommand, requiredFlag, stringFlag, UsageError, type FlagValues } from './command.js';

const DEGREES_PATTERN = /^[+-]?\d{1,3}(?:\.\d{1,15})?$/;

function location(values: FlagValues): Terminal['location'] {
  const lat = stringFlag(values, 'lat');
  const lon = stringFlag(values, 'lon');
  if (lat === undefined && lon === undefined) return undefined;
  if (lat === undefined || lon === undefined) throw new UsageError('--lat and --lon go together');
  const latitudeDeg = DEGREES_PATTERN.test(lat) ? Number(lat) : NaN;
  const longitudeDeg = DEGREES_PATTERN.test(lon) ? Number(lon) : NaN;
  if (!(Math.abs(latitudeDeg) <= 90)) throw new UsageError(`--lat must be decimal degrees -90..90, got "${lat}"`);
  if (!(Math.abs(longitudeDeg) <= 180)) throw new UsageError(`--lon must be decimal degrees -180..180, got "${lon}"`);
  return { latitudeDeg, longitudeDeg };
}

function terminalOf(terminalId: string, values: FlagValues): Terminal {
  return {
    terminalId,
    merchantAccountId: requiredFlag(values, 'merchant'),
    location: location(values),
    action: stringFlag(values, 'action') ?? '',
    hint: stringFlag(values, 'hint') ?? '',
    item: stringFlag(values, 'item') ?? '',
  };
}

export function terminalJson(terminal: Terminal): Record<string, unknown> {
  return {
    terminalId: terminal.terminalId,
    merchantAccountId: terminal.merchantAccountId,
    location: terminal.location ? { lat: terminal.location.latitudeDeg, lon: terminal.location.longitudeDeg } : null,
    action: terminal.action,
    hint: terminal.hint,
    item: terminal.item,
  };
}

export const terminalRegisterCommand = clientCommand({
  name: 'terminal register',
  help: `
Usage: biopay terminal register TERMINAL --merchant ACCOUNT [--lat DEG --lon DEG] [--action ACTION]
                                [--hint HINT] [--item CODE]

Registers (or updates) a terminal: the merchant account its payments pay into, where it stands
(checked against geofenced policies), the business action it runs after authorization (e.g.
open-gate), a matching hint and the item it hands out by default.`,
  options: {
    merchant: { type: 'string' }, lat: { type: 'string' }, lon: { type: 'string' }, action: { type: 'string' },
    hint: { type: 'string' }, item: { type: 'string' },
  },
  positionals: ['TERMINAL'],
  validate: (values, [terminalId]) => void terminalOf(terminalId!, values),
  async run({ values, positionals: [terminalId], gateway, timeoutMs }) {
    const terminal = await gateway.registerTerminal(
      RegisterTerminalRequest.fromPartial({ terminal: terminalOf(terminalId!, values) }), { timeoutMs },
    );
    const at = terminal.location ? ` at ${terminal.location.latitudeDeg},${terminal.location.longitudeDeg}` : '';
    return {
      json: { terminal: terminalJson(terminal) },
      lines: [`terminal ${terminal.terminalId} pays into ${terminal.merchantAccountId}${at}${terminal.action ? `, action ${terminal.action}` : ''}`],
    };
  },
});
