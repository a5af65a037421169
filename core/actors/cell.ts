/**
 * One actor instance behind its mailbox: processes one letter at a time in arrival order, restarts
 * the instance with back-off when `receive` throws something other than a BiopayError, and can be
 * passivated (stopped and forgotten) while idle.
 */
import { asBiopayError, BiopayError, ErrorCode } from '../errors.js';
import { expiredError, stoppedError, type Letter } from './letter.js';
import type { ActorLogger } from './log.js';
import { BoundedQueue } from './mailbox.js';
import { RestartTracker } from './restart.js';
import type { Actor, ActorFactory, RestartPolicy } from './types.js';

export interface CellSettings {
  readonly kind: string;
  readonly key: string;
  readonly factory: ActorFactory;
  readonly mailboxCapacity: number;
  readonly restart: RestartPolicy;
  readonly log: ActorLogger;
}

export class ActorCell {
  /** Unix ms when the cell last became idle; the passivation sweep reads it. */
  idleSinceMs = Date.now();
  private readonly mailbox: BoundedQueue<Letter>;
  private readonly restarts: RestartTracker;
  private actor: Actor | undefined;
  /** True while a letter, a restart back-off or a stop is in progress. */
  private busy = false;
  private failure: BiopayError | undefined;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly settings: CellSettings) {
    this.mailbox = new BoundedQueue(settings.mailboxCapacity);
    this.restarts = new RestartTracker(settings.restart);
  }

  get isIdle(): boolean {
    return !this.busy && this.mailbox.length === 0;
  }

  enqueue(letter: Letter): void {
    const { kind, key } = this.settings;
    if (this.closed) return letter.settle(stoppedError(kind));
    if (!this.mailbox.push(letter)) {
      return letter.settle(
        new BiopayError(ErrorCode.MailboxFull, `mailbox of ${kind}:${key} is full (${this.mailbox.capacity})`),
      );
    }
    if (!this.busy) void this.run();
  }

  /** Stops and forgets the instance if idle. Returns false when letters arrived meanwhile. */
  async passivate(): Promise<boolean> {
    if (!this.isIdle) return false;
    this.busy = true;
    await this.stopActor();
    // A fresh start after passivation: the failure budget is forgiven.
    this.failure = undefined;
    this.restarts.reset();
    this.busy = false;
    if (this.mailbox.length > 0) {
      void this.run();
      return false;
    }
    this.notifyIdle();
    return true;
  }

  /** Resolves once nothing is queued or in progress. */
  whenIdle(): Promise<void> {
    if (this.isIdle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuses further letters, fails queued ones with STOPPED, stops the instance once idle. */
  async close(): Promise<void> {
    this.closed = true;
    for (const letter of this.mailbox.clear()) letter.settle(stoppedError(this.settings.kind));
    await this.whenIdle();
    await this.stopActor();
  }

  private async run(): Promise<void> {
    this.busy = true;
    try {
      for (let letter = this.mailbox.shift(); letter; letter = this.mailbox.shift()) {
        await this.process(letter);
      }
    } finally {
      this.busy = false;
      this.idleSinceMs = Date.now();
      this.notifyIdle();
    }
  }

  private async process(letter: Letter): Promise<void> {
    if (letter.deadlineMs !== 0 && Date.now() > letter.deadlineMs) {
      return letter.settle(expiredError(this.settings.kind, letter.method));
    }
    if (this.failure) return letter.settle(this.failure);
    let actor: Actor;
    try {
      actor = await this.ensureStarted();
    } catch (error) {
      letter.settle(asBiopayError(error));
      return this.crashed(error);
    }
    try {
      letter.settle(undefined, await actor.receive(letter.method, letter.message, { deadlineMs: letter.deadlineMs }));
    } catch (error) {
      letter.settle(asBiopayError(error));
      // A BiopayError is an answer (a refused command); anything else is a bug in the actor.
      if (!(error instanceof BiopayError)) await this.crashed(error);
    }
  }

  private async ensureStarted(): Promise<Actor> {
    if (this.actor) return this.actor;
    const actor = this.settings.factory(this.settings.key);
    await actor.start?.();
    this.actor = actor;
    return actor;
  }

  /** Drops the instance and waits out the back-off; queued letters wait (their deadlines still run). */
  private async crashed(error: unknown): Promise<void> {
    const { kind, key, log } = this.settings;
    await this.stopActor();
    const delayMs = this.restarts.recordFailure(Date.now());
    log('error', 'actor.crashed', { kind, key, code: asBiopayError(error).code, message: errorText(error), delayMs });
    if (delayMs === undefined) {
      this.failure = new BiopayError(ErrorCode.Unavailable, `actor ${kind}:${key} failed too often`, { cause: error });
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }

  private async stopActor(): Promise<void> {
    const actor = this.actor;
    this.actor = undefined;
    if (!actor?.stop) return;
    try {
      await actor.stop();
    } catch (error) {
      const { kind, key, log } = this.settings;
      log('warn', 'actor.stop_failed', { kind, key, message: errorText(error) });
    }
  }

  private notifyIdle(): void {
    if (!this.isIdle) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, 200);
}
