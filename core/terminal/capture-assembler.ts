/**
 * The terminal's main control module, first stage: sensor events of one touch (same terminal and
 * session) are grouped, until the reading marked last or for a short window, into one capture, keeping the best-quality fingerprint
 * and face readings and dropping readings that fail liveness.
 */
import { filter, groupBy, map, mergeMap, take, takeWhile, timer, toArray, type OperatorFunction } from 'rxjs';
import { Modality, type Capture, type SensorEvent } from '../../proto/gen/biopay/v1/biometrics.js';
import type { Money } from '../../proto/gen/biopay/v1/common.js';

export interface Touch {
  readonly terminalId: string;
  readonly sessionId: string;
  readonly capture: Capture;
  /** The amount asked, from the last event that carried one. */
  readonly amount: Money | undefined;
}

export interface CaptureAssemblyOptions {
  /** How long after a session's first event its capture is closed. */
  readonly windowMs: number;
  /** Readings with liveness below this are ignored (presentation attacks). */
  readonly livenessMin: number;
  /** Events kept per session at most: a stuck sensor cannot grow memory. */
  readonly eventsPerSessionMax: number;
}

export const DEFAULT_CAPTURE_ASSEMBLY: CaptureAssemblyOptions = { windowMs: 200, livenessMin: 50, eventsPerSessionMax: 16 };

export function assembleCaptures(options: CaptureAssemblyOptions = DEFAULT_CAPTURE_ASSEMBLY): OperatorFunction<SensorEvent, Touch> {
  return (events) =>
    events.pipe(
      filter((event) => event.liveness >= options.livenessMin && event.terminalId !== '' && event.sessionId !== ''),
      // A session closes at its last reading, or when its window ends for sensors that never say
      // (the group's duration completes it: one timer per touch).
      groupBy((event) => `${event.terminalId}\u0000${event.sessionId}`, { duration: () => timer(options.windowMs) }),
      mergeMap((session) =>
        session.pipe(
          takeWhile((event) => !event.last, true),
          take(options.eventsPerSessionMax),
          toArray(),
        )),
      map(touchFromEvents),
      filter((touch): touch is Touch => touch !== undefined),
    );
}

function touchFromEvents(events: readonly SensorEvent[]): Touch | undefined {
  const first = events[0];
  if (!first) return undefined;
  const finger = best(events, Modality.MODALITY_FINGERPRINT);
  const face = best(events, Modality.MODALITY_FACE);
  const palm = best(events, Modality.MODALITY_PALM);
  if (!finger && !face && !palm) return undefined;
  const withAmount = [...events].reverse().find((event) => event.amount !== undefined);
  const withHint = events.find((event) => event.hint !== '');
  return {
    terminalId: first.terminalId,
    sessionId: first.sessionId,
    amount: withAmount?.amount,
    capture: {
      captureId: `${first.terminalId}:${first.sessionId}`,
      terminalId: first.terminalId,
      isoTemplate: finger?.features?.$case === 'isoTemplate' ? finger.features.value : Buffer.alloc(0),
      face: face?.features?.$case === 'embedding' ? face.features.value : undefined,
      palm: palm?.features?.$case === 'embedding' ? palm.features.value : undefined,
      hint: withHint?.hint ?? '',
    },
  };
}

function best(events: readonly SensorEvent[], modality: Modality): SensorEvent | undefined {
  let chosen: SensorEvent | undefined;
  for (const event of events) {
    if (event.modality !== modality) continue;
    if (!chosen || event.quality > chosen.quality) chosen = event;
  }
  return chosen;
}
