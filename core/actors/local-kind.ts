/**
 * The actors of one kind living in this process: creates a cell per key on first message, passivates
 * idle ones on a periodic sweep, and drains them on shutdown.
 */
import { BiopayError, ErrorCode } from '../errors.js';
import { ActorCell } from './cell.js';
import { askLetter, stoppedError, unknownMethodError, type Letter } from './letter.js';
import type { ActorLogger } from './log.js';
import { DEFAULT_RESTART_POLICY } from './restart.js';
import type { ActorFactory, ActorKindOptions, Protocol, RestartPolicy } from './types.js';

export const DEFAULT_MAILBOX_CAPACITY = 1_024;
export const DEFAULT_IDLE_TIMEOUT_MS = 300_000;
export const DEFAULT_ACTORS_MAX = 100_000;
const SWEEP_INTERVAL_MIN_MS = 5;
const SWEEP_INTERVAL_MAX_MS = 5_000;

export interface ResolvedKindOptions {
  readonly mailboxCapacity: number;
  readonly idleTimeoutMs: number;
  readonly restart: RestartPolicy;
  readonly actorsMax: number;
}

export class LocalKind {
  private readonly cells = new Map<string, ActorCell>();
  private readonly options: ResolvedKindOptions;
  private readonly sweepTimer: NodeJS.Timeout;
  private closing = false;

  constructor(
    readonly kind: string,
    readonly protocol: Protocol,
    private readonly factory: ActorFactory,
    options: ActorKindOptions | undefined,
    private readonly log: ActorLogger,
  ) {
    this.options = resolveOptions(options);
    const sweepMs = clamp(this.options.idleTimeoutMs / 4, SWEEP_INTERVAL_MIN_MS, SWEEP_INTERVAL_MAX_MS);
    this.sweepTimer = setInterval(() => this.sweep(), sweepMs);
    this.sweepTimer.unref();
  }

  /** Live actor instances (for tests and metrics). */
  get size(): number {
    return this.cells.size;
  }

  deliver(key: string, letter: Letter): void {
    if (this.closing) return letter.settle(stoppedError(this.kind));
    if (!Object.hasOwn(this.protocol, letter.method)) return letter.settle(unknownMethodError(this.kind, letter.method));
    let cell = this.cells.get(key);
    if (!cell) {
      if (this.cells.size >= this.options.actorsMax) {
        return letter.settle(
          new BiopayError(ErrorCode.Unavailable, `actor kind ${this.kind} has ${this.options.actorsMax} live actors`),
        );
      }
      cell = new ActorCell({ kind: this.kind, key, factory: this.factory, log: this.log, ...this.options });
      this.cells.set(key, cell);
    }
    cell.enqueue(letter);
  }

  ask(key: string, method: string, message: unknown, timeoutMs: number): Promise<unknown> {
    const { letter, answer } = askLetter(this.kind, method, message, timeoutMs);
    this.deliver(key, letter);
    return answer;
  }

  tell(key: string, method: string, message: unknown): void {
    this.deliver(key, {
      method,
      message,
      deadlineMs: 0,
      settle: (error) => {
        if (error) this.log('warn', 'actor.tell_failed', { kind: this.kind, key, method, code: error.code });
      },
    });
  }

  /** Finishes queued and in-flight letters (until the deadline), then stops every actor. */
  async drain(deadlineMs: number): Promise<void> {
    this.closing = true;
    clearInterval(this.sweepTimer);
    const cells = [...this.cells.values()];
    const allIdle = Promise.all(cells.map((cell) => cell.whenIdle()));
    const remainingMs = Math.max(0, deadlineMs - Date.now());
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, remainingMs)));
    await Promise.race([allIdle, timedOut]);
    clearTimeout(timer);
    await Promise.all(cells.map((cell) => cell.close()));
    this.cells.clear();
  }

  /** Waits for the matching actors to finish their work, then passivates them (shard hand-over). */
  async quiesce(matches: (key: string) => boolean): Promise<void> {
    const selected = [...this.cells].filter(([key]) => matches(key));
    await Promise.all(
      selected.map(async ([key, cell]) => {
        await cell.whenIdle();
        await this.passivate(key, cell);
      }),
    );
  }

  private sweep(): void {
    const idleBeforeMs = Date.now() - this.options.idleTimeoutMs;
    for (const [key, cell] of this.cells) {
      if (!cell.isIdle || cell.idleSinceMs > idleBeforeMs) continue;
      void this.passivate(key, cell);
    }
  }

  private async passivate(key: string, cell: ActorCell): Promise<void> {
    const stopped = await cell.passivate();
    if (stopped && this.cells.get(key) === cell && !this.closing) this.cells.delete(key);
  }
}

function resolveOptions(options: ActorKindOptions | undefined): ResolvedKindOptions {
  const resolved: ResolvedKindOptions = {
    mailboxCapacity: options?.mailboxCapacity ?? DEFAULT_MAILBOX_CAPACITY,
    idleTimeoutMs: options?.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    restart: options?.restart ?? DEFAULT_RESTART_POLICY,
    actorsMax: options?.actorsMax ?? DEFAULT_ACTORS_MAX,
  };
  assertPositiveInt('mailboxCapacity', resolved.mailboxCapacity);
  assertPositiveInt('idleTimeoutMs', resolved.idleTimeoutMs);
  assertPositiveInt('actorsMax', resolved.actorsMax);
  return resolved;
}

function assertPositiveInt(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new BiopayError(ErrorCode.BadRequest, `${name} must be a positive integer, got ${value}`);
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
