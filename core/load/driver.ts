/**
 * Virtual terminals: each arrival picks a workload category, a payer and a terminal of the payer's
 * community, publishes the sensor events of one touch as a real sensor would, and waits for the
 * payment result the terminal node publishes. One subscription per terminal collects every result;
 * a payment with no result within the timeout is a NO_RESULT error. Every payment that may have
 * moved money is logged for the ledger check.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { PaymentOutcome, PaymentResult } from '../../proto/gen/biopay/v1/payment.js';
import { makeRandom, type Random } from '../biometrics/synthetic/index.js';
import { BiopayError, ErrorCode } from '../errors.js';
import { publishTouch } from '../terminal/sensor-simulator.js';
import { paymentResultSubject } from '../terminal/subjects.js';
import { LoadErrorCode, type PhaseMetrics } from './metrics.js';
import { categoryPicker, CATEGORIES, isErrorCode, type Category, type Mix } from './mix.js';
import type { Arrival } from './scheduler.js';
import type { LoadFinger, LoadTerminal, Population } from './setup.js';

export interface DriverOptions {
  readonly mix: Mix;
  readonly seed: number;
  /** How long a payment's result is waited for before it counts as NO_RESULT. */
  readonly resultTimeoutMs: number;
  readonly runId: string;
}

/** Payments whose money the ledger check verifies. */
export interface LedgerLogEntry {
  readonly paymentId: string;
  /** The payer the network named, else the one the load tool meant. */
  readonly accountId: string;
  readonly merchantAccountId: string;
  /** `approved`, `voided`, or `none` when no result came (the ledger decides what happened). */
  readonly ending: 'approved' | 'voided' | 'none';
}

interface Pending {
  readonly category: Category;
  readonly dueMs: number;
  readonly sentMs: number;
  readonly metrics: PhaseMetrics;
  readonly payer: LoadFinger;
  readonly terminal: LoadTerminal;
  readonly done: () => void;
}

const SWEEP_INTERVAL_MS = 100;

export class LoadDriver {
  readonly ledgerLog: LedgerLogEntry[] = [];
  /** Results that came after their payment had counted as NO_RESULT. */
  lateResults = 0;
  readonly mix: Mix;
  private readonly pending = new Map<string, Pending>();
  private readonly subscriptions: Subscription[] = [];
  private readonly random: Random;
  private readonly pick: (uniform: number) => Category;
  private readonly normalTerminals: LoadTerminal[][];
  private readonly jammedTerminals: LoadTerminal[];
  private sequence = 0;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly nc: NatsConnection, private readonly population: Population, private readonly options: DriverOptions) {
    this.mix = effectiveMix(options.mix, population);
    this.pick = categoryPicker(this.mix);
    this.random = makeRandom(options.seed);
    const communities = population.plan.communities;
    this.normalTerminals = Array.from({ length: communities }, () => []);
    this.jammedTerminals = [];
    for (const terminal of population.terminals) {
      if (terminal.jammed) this.jammedTerminals[terminal.community] = terminal;
      else this.normalTerminals[terminal.community]!.push(terminal);
    }
  }

  get inFlight(): number {
    return this.pending.size;
  }

  start(): void {
    for (const terminal of this.population.terminals) {
      this.subscriptions.push(this.nc.subscribe(paymentResultSubject(terminal.terminalId), {
        callback: (error, message) => { if (!error) this.onResult(message.data); },
      }));
    }
    this.sweeper = setInterval(() => this.expire(performance.now()), SWEEP_INTERVAL_MS);
  }

  /** Sends one payment; resolves when its result (or its NO_RESULT) is recorded. Never rejects. */
  send(arrival: Arrival, metrics: PhaseMetrics): Promise<void> {
    const category = this.pick(this.random());
    const payer = this.payerFor(category);
    const terminal = category === 'jammed' ? this.jammedTerminals[payer.community]! : this.terminalFor(payer.community);
    const sessionId = `${this.options.runId}s${this.sequence++}`;
    const paymentId = `${terminal.terminalId}:${sessionId}`;
    const sentMs = performance.now();
    metrics.recordSent(category, sentMs);
    return new Promise<void>((done) => {
      this.pending.set(paymentId, { category, dueMs: arrival.dueMs, sentMs, metrics, payer, terminal, done });
      try {
        publishTouch(this.nc, {
          terminalId: terminal.terminalId, sessionId, isoTemplate: payer.probe,
          amount: { amountMinor: this.population.amountMinor, currency: this.population.currency },
        });
      } catch (error) {
        this.pending.delete(paymentId);
        const code = error instanceof BiopayError ? error.code : ErrorCode.Unavailable;
        metrics.recordError(category, code, performance.now(), arrival.dueMs);
        done();
      }
    });
  }

  /** An arrival dropped at the in-flight bound. */
  overflow(arrival: Arrival, metrics: PhaseMetrics): void {
    const category = this.pick(this.random());
    const nowMs = performance.now();
    metrics.recordSent(category, nowMs);
    metrics.recordError(category, LoadErrorCode.Overflow, nowMs, arrival.dueMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    this.expire(Number.POSITIVE_INFINITY);
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.subscriptions.length = 0;
    await this.nc.flush();
  }

  private onResult(data: Uint8Array): void {
    let result: PaymentResult;
    try {
      result = PaymentResult.decode(data);
    } catch {
      return;
    }
    const pending = this.pending.get(result.paymentId);
    if (!pending) {
      // Another client's payment on a shared terminal subject, or one that already expired here.
      if (result.paymentId.includes(`:${this.options.runId}s`)) this.lateResults++;
      return;
    }
    this.pending.delete(result.paymentId);
    pending.metrics.recordResult(pending.category, pending.dueMs, pending.sentMs, result, performance.now());
    const ending = endingOf(result);
    const accountId = result.accountId || pending.payer.accountId;
    if (ending && accountId !== '') this.log(result.paymentId, accountId, pending.terminal, ending);
    pending.done();
  }

  /** Payments past their timeout are NO_RESULT; the map is in send order, so the scan stops early. */
  private expire(nowMs: number): void {
    for (const [paymentId, pending] of this.pending) {
      if (pending.sentMs + this.options.resultTimeoutMs > nowMs) break;
      this.pending.delete(paymentId);
      pending.metrics.recordError(pending.category, LoadErrorCode.NoResult, Math.min(nowMs, performance.now()), pending.dueMs);
      if (pending.payer.accountId !== '') this.log(paymentId, pending.payer.accountId, pending.terminal, 'none');
      pending.done();
    }
  }

  private log(paymentId: string, accountId: string, terminal: LoadTerminal, ending: LedgerLogEntry['ending']): void {
    this.ledgerLog.push({ paymentId, accountId, merchantAccountId: terminal.merchantAccountId, ending });
  }

  private payerFor(category: Category): LoadFinger {
    const list = category === 'unknown' ? this.population.unknown
      : category === 'jammed' ? this.population.payers.approved : this.population.payers[category];
    return list[Math.floor(this.random() * list.length)]!;
  }

  private terminalFor(community: number): LoadTerminal {
    const terminals = this.normalTerminals[community]!;
    return terminals[Math.floor(this.random() * terminals.length)]!;
  }
}

/**
 * What the ledger check must verify for a result: approved and voided payments by their outcome;
 * a payment that ended in a network error (a settlement or a business answer lost, say) may still
 * have moved money, so the ledger decides (`none`); a business refusal before the hold moved nothing.
 */
function endingOf(result: PaymentResult): LedgerLogEntry['ending'] | undefined {
  if (result.outcome === PaymentOutcome.PAYMENT_OUTCOME_APPROVED) return 'approved';
  if (result.outcome === PaymentOutcome.PAYMENT_OUTCOME_VOIDED) return 'voided';
  const code = result.refusals[0]?.code ?? '';
  return isErrorCode(code || 'MISSING_REFUSAL') ? 'none' : undefined;
}

/** Categories the population has no payer (or terminal) for weigh 0; approved payers are required. */
export function effectiveMix(mix: Mix, population: Population): Mix {
  const available: Record<Category, boolean> = {
    approved: population.payers.approved.length > 0,
    restricted: population.payers.restricted.length > 0,
    insufficient: population.payers.insufficient.length > 0,
    unknown: population.unknown.length > 0,
    jammed: population.payers.approved.length > 0 && population.terminals.some((terminal) => terminal.jammed),
  };
  if (!available.approved) throw new BiopayError(ErrorCode.InvalidState, 'no enrolled payer can be approved: every enrollment failed');
  return Object.fromEntries(CATEGORIES.map((category) => [category, available[category] ? mix[category] : 0])) as unknown as Mix;
}
