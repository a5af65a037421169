/**
 * The terminal's main control module, first stage: sensor events of one touch (same terminal and
 * session) are grouped, until the reading marked last or for a short window, into one capture, keeping the best-quality fingerprint
 * and face readings and dropping readings that fail liveness.
 */
import { Observable, type OperatorFunction } from 'rxjs';
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
  /**
   * Sessions open at once at most (default OPEN_SESSIONS_MAX): a reading that would open one more is
   * dropped, so that a flood of session ids cannot grow memory and timers without end.
   */
  readonly openSessionsMax?: number;
}

export const DEFAULT_CAPTURE_ASSEMBLY: CaptureAssemblyOptions = { windowMs: 200, livenessMin: 50, eventsPerSessionMax: 16 };

/** Far above what a node sees open in one window (200 ms at thousands of touches a second). */
const OPEN_SESSIONS_MAX = 65_536;
/**
 * Sessions closed before their window ended that are remembered at most (their late readings are
 * dropped): far above what a node assembles in one window, a bound if a terminal floods sessions.
 */
const CLOSED_SESSIONS_MAX = 65_536;

/**
 * A session closes at its last reading, after `eventsPerSessionMax` readings, or when its window
 * ends (for sensors that never say which reading is the last). Readings of a session that closed
 * early are dropped until its window ends; after it, the same session id starts a new touch.
 *
 * The operator keeps its sessions in two maps and gives an open session one timer, cleared when the
 * last reading closes it. It replaces groupBy + a timer per group (each group's timer ran its full
 * window, and with it one more event-loop wake-up per payment, however early the touch closed).
 */
export function assembleCaptures(options: CaptureAssemblyOptions = DEFAULT_CAPTURE_ASSEMBLY): OperatorFunction<SensorEvent, Touch> {
  return (events) => new Observable<Touch>((subscriber) => {
    const sessions = new SessionWindows(options, (sessionEvents) => {
      const touch = touchFromEvents(sessionEvents);
      if (touch) subscriber.next(touch);
    });
    const subscription = events.subscribe({
      next: (event) => {
        if (event.liveness >= options.livenessMin && event.terminalId !== '' && event.sessionId !== '') sessions.add(event);
      },
      error: (error: unknown) => {
        sessions.discardAll();
        subscriber.error(error);
      },
      complete: () => {
        sessions.closeAll();
        subscriber.complete();
      },
    });
    return () => {
      subscription.unsubscribe();
      sessions.discardAll();
    };
  });
}

interface OpenSession {
  readonly events: SensorEvent[];
  /** When the window closes it, on the performance.now() clock. */
  readonly windowEndMs: number;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** The sessions of one assembly, open and recently closed. */
class SessionWindows {
  readonly #open = new Map<string, OpenSession>();
  /** Sessions closed early, by key, with the end of their window: insertion order is close order. */
  readonly #closed = new Map<string, number>();

  constructor(private readonly options: CaptureAssemblyOptions, private readonly emit: (events: SensorEvent[]) => void) {}

  add(event: SensorEvent): void {
    const key = `${event.terminalId}\u0000${event.sessionId}`;
    const nowMs = performance.now();
    this.#forgetClosedBefore(nowMs);
    const closedUntilMs = this.#closed.get(key);
    if (closedUntilMs !== undefined) {
      // A reading after its touch was assembled (a duplicate, a sensor late to settle): dropped.
      if (nowMs < closedUntilMs) return;
      this.#closed.delete(key);
    }
    let session = this.#open.get(key);
    if (session === undefined) {
      if (this.#open.size >= (this.options.openSessionsMax ?? OPEN_SESSIONS_MAX)) return;
      session = { events: [], windowEndMs: nowMs + this.options.windowMs, timer: setTimeout(() => this.#close(key, false), this.options.windowMs) };
      this.#open.set(key, session);
    }
    session.events.push(event);
    if (event.last || session.events.length >= this.options.eventsPerSessionMax) this.#close(key, true);
  }

  /** The source ended: every open session is assembled from what it has, oldest first. */
  closeAll(): void {
    for (const key of [...this.#open.keys()]) this.#close(key, false);
    this.#closed.clear();
  }

  /** Unsubscribed or failed: nothing more is emitted, no timer is left behind. */
  discardAll(): void {
    for (const session of this.#open.values()) clearTimeout(session.timer);
    this.#open.clear();
    this.#closed.clear();
  }

  #close(key: string, beforeWindowEnd: boolean): void {
    const session = this.#open.get(key);
    if (session === undefined) return;
    this.#open.delete(key);
    clearTimeout(session.timer);
    if (beforeWindowEnd) {
      this.#closed.set(key, session.windowEndMs);
      if (this.#closed.size > CLOSED_SESSIONS_MAX) this.#closed.delete(this.#closed.keys().next().value!);
    }
    this.emit(session.events);
  }

  /** Closed sessions whose window has ended, from the oldest closed, until one that has not. */
  #forgetClosedBefore(nowMs: number): void {
    for (const [key, windowEndMs] of this.#closed) {
      if (windowEndMs > nowMs) return;
      this.#closed.delete(key);
    }
  }
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
