/**
 * Terminal node (the charging front-end's control module): turns sensor events into payments with
 * an RxJS pipeline, and serves the `terminal` actor kind (`pay` for terminals that send a whole
 * capture over gRPC, and the terminal registry).
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { mergeMap, Subject, type Subscription as RxSubscription } from 'rxjs';
import { SensorEvent } from '../../proto/gen/biopay/v1/biometrics.js';
import {
  PaymentOutcome, PaymentResult, type GetTerminalRequest, type PayRequest, type RegisterTerminalRequest,
} from '../../proto/gen/biopay/v1/payment.js';
import { ActorSystem } from '../../core/actors/index.js';
import { asBiopayError, BiopayError, ErrorCode } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { ActorKind, AssociationProtocol, LedgerProtocol, TerminalProtocol } from '../../core/protocols.js';
import { BusinessClient } from '../../core/terminal/business-client.js';
import { ConcurrencyGate } from '../../core/terminal/concurrency-gate.js';
import { assembleCaptures, DEFAULT_CAPTURE_ASSEMBLY, type Touch } from '../../core/terminal/capture-assembler.js';
import { DEFAULT_PAYMENT_TIMEOUTS, runPayment, type PaymentPorts, type PaymentTimeouts } from '../../core/terminal/payment-saga.js';
import { TerminalRegistry } from '../../core/terminal/registry.js';
import type { TerminalStatus } from '../../core/status/node-status.js';
import { paymentResultSubject, SENSOR_SUBJECT_ALL, sensorSubject } from '../../core/terminal/subjects.js';
import { encodeMessage } from '../../core/protobuf.js';
import { logSetupRetries } from '../../core/transport/jetstream-setup.js';

export interface TerminalNodeOptions {
  readonly nc: NatsConnection;
  readonly system: ActorSystem;
  readonly log: Logger;
  readonly timeouts?: PaymentTimeouts;
  /**
   * Payments from sensor events in flight at most on this node; a touch beyond it is refused at once
   * (UNAVAILABLE, "terminal node overloaded") instead of queueing without bound.
   */
  readonly paymentsInFlightMax?: number;
  /**
   * Identify calls running at once from this node at most (fewer while the association tier reports
   * overload); the others wait, bounded in number and by their identify timeout. Keeps the
   * association tier's queues below their limits.
   */
  readonly identifiesInFlightMax?: number;
  /**
   * The terminals whose sensors this node listens to. A touch's readings must reach one node, so
   * with several terminal nodes each is given its own terminals; without a list the node listens
   * to every terminal (one terminal node per network, or nodes sharing by queue group per event).
   */
  readonly sensorTerminalIds?: readonly string[];
  /**
   * Once the identify queue has not emptied for 200 ms (sustained overload, not a burst), a touch
   * that has waited longer than this when its turn comes is refused (UNAVAILABLE) and a newer one
   * served (ConcurrencyGate's standing queue): the touches served wait this at most instead of
   * about 200 ms. Default DEFAULT_IDENTIFY_WAIT_TARGET_MS; 1..IDENTIFY_WAIT_TARGET_MS_MAX, the
   * largest leaving about the 200 ms bound alone.
   */
  readonly identifyWaitTargetMs?: number;
}

export interface TerminalNode {
  readonly registry: TerminalRegistry;
  /** Payments and identifies in flight now (`biopay status`). */
  status(): TerminalStatus;
  stop(): Promise<void>;
}

const SENSOR_QUEUE_GROUP = 'biopay.terminal';
export const DEFAULT_PAYMENTS_IN_FLIGHT_MAX = 4_096;
const FAILURE_LOG_INTERVAL_MS = 1_000;
/** Two matcher threads and up to four slices per search fill half of a 128-task matcher queue at 16 searches. */
export const DEFAULT_IDENTIFIES_IN_FLIGHT_MAX = 16;
const IDENTIFIES_IN_FLIGHT_MIN = 2;
/** Touches waiting for an identify slot; one more is refused at once ("terminal node identify overloaded"). */
const IDENTIFIES_WAITING_MAX = 1_024;
/**
 * A touch is refused at once (UNAVAILABLE: touch again) while the oldest waiting one has waited
 * this long: an overloaded node then answers the touches it lets in within a fraction of their
 * 2 s identify budget, instead of every touch waiting out most of it.
 */
const IDENTIFY_QUEUE_DELAY_MAX_MS = 200;
/** The longest identifyWaitTargetMs: beyond it the 200 ms bound refuses first. */
export const IDENTIFY_WAIT_TARGET_MS_MAX = IDENTIFY_QUEUE_DELAY_MAX_MS;
/**
 * Hinted target workload at 1,000/s (about capacity) on a 2-core VM, four interleaved pairs against
 * the 200 ms bound alone: fewer touches refused in all (6,811 against 8,035) and the p99 of those
 * served 140-182 ms against 122-422 ms (median 165 against 338); at 1,500/s it halves p50 and p99.
 * A simulated server loses about 1% of its throughput at capacity with it, 20 ms about 2.4%
 * (docs/performance-history.md).
 */
export const DEFAULT_IDENTIFY_WAIT_TARGET_MS = 50;

export async function startTerminalNode(options: TerminalNodeOptions): Promise<TerminalNode> {
  const { nc, system, log } = options;
  const registry = await TerminalRegistry.open(nc, logSetupRetries(log));
  const business = await BusinessClient.open(nc, logSetupRetries(log));
  // Adaptive: an association tier answering UNAVAILABLE or TIMEOUT gets fewer identifies at once;
  // a queue that has backed up past IDENTIFY_QUEUE_DELAY_MAX_MS refuses new touches at once, and
  // one that has stood that long serves its waiters within the wait target.
  const identifyGate = new ConcurrencyGate('terminal node identify', options.identifiesInFlightMax ?? DEFAULT_IDENTIFIES_IN_FLIGHT_MAX,
    IDENTIFIES_WAITING_MAX, {
      adaptive: { activeMin: IDENTIFIES_IN_FLIGHT_MIN },
      queueDelayMaxMs: IDENTIFY_QUEUE_DELAY_MAX_MS, queueDelayTargetMs: options.identifyWaitTargetMs ?? DEFAULT_IDENTIFY_WAIT_TARGET_MS,
    });
  const ports = paymentPorts(system, business, identifyGate);
  const timeouts = options.timeouts ?? DEFAULT_PAYMENT_TIMEOUTS;
  const pay = async (request: PayRequest) => runPayment(ports, await registry.get(request.terminalId), request, timeouts);

  system.register(ActorKind.Terminal, TerminalProtocol, () => ({
    async receive(method, message) {
      switch (method) {
        case 'pay': return pay(message as PayRequest);
        case 'registerTerminal': {
          const { terminal } = message as RegisterTerminalRequest;
          if (!terminal) throw new BiopayError(ErrorCode.BadRequest, 'registerTerminal needs a terminal');
          return registry.register(terminal);
        }
        case 'getTerminal': return registry.get((message as GetTerminalRequest).terminalId);
        default: throw new BiopayError(ErrorCode.BadRequest, `terminal has no method ${method}`);
      }
    },
  }));
  await system.serve(ActorKind.Terminal);

  const events = new Subject<SensorEvent>();
  const onEvent = (error: Error | null, message: Msg) => {
    if (error) return;
    try {
      events.next(SensorEvent.decode(message.data));
    } catch {
      log.warn('malformed sensor event dropped', { subject: message.subject });
    }
  };
  const subscriptions = options.sensorTerminalIds && options.sensorTerminalIds.length > 0
    ? options.sensorTerminalIds.map((terminalId) => nc.subscribe(sensorSubject(terminalId), { callback: onEvent }))
    : [nc.subscribe(SENSOR_SUBJECT_ALL, { queue: SENSOR_QUEUE_GROUP, callback: onEvent })];
  const failures = new FailureLog(log);
  const admission = new Admission(options.paymentsInFlightMax ?? DEFAULT_PAYMENTS_IN_FLIGHT_MAX);
  const pipeline = events
    .pipe(
      assembleCaptures(DEFAULT_CAPTURE_ASSEMBLY),
      // Unbounded here because admission bounds it: a touch beyond the limit is refused, not buffered.
      mergeMap((touch) => payTouch(touch, pay, failures, admission)),
    )
    .subscribe((result) => nc.publish(paymentResultSubject(result.terminalId), encodeMessage(PaymentResult, result.result)));

  return {
    registry,
    status: () => ({
      paymentsInFlight: admission.inFlight, identifiesRunning: identifyGate.running, identifiesWaiting: identifyGate.queued,
      identifyLimit: identifyGate.currentLimit,
    }),
    async stop() {
      await stopPipeline(subscriptions, events, pipeline);
      business.close();
    },
  };
}

/**
 * Failed payments logged at most once a second, counted by code: under overload a line per payment
 * would cost more than the payment and drown the log.
 */
class FailureLog {
  private counts: Record<string, number> = {};
  private firstPaymentId = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly log: Logger) {}

  note(code: string, paymentId: string): void {
    this.counts[code] = (this.counts[code] ?? 0) + 1;
    if (this.timer) return;
    this.firstPaymentId = paymentId;
    this.timer = setTimeout(() => this.flush(), FAILURE_LOG_INTERVAL_MS);
    this.timer.unref();
  }

  private flush(): void {
    const counts = this.counts;
    this.counts = {};
    this.timer = undefined;
    const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
    this.log.warn('payments from sensor events failed', { count: total, byCode: JSON.stringify(counts), firstPaymentId: this.firstPaymentId });
  }
}

/** Counts the payments in flight and refuses one beyond the limit, naming the limit. */
class Admission {
  #inFlight = 0;

  constructor(private readonly inFlightMax: number) {
    if (!Number.isSafeInteger(inFlightMax) || inFlightMax < 1) {
      throw new BiopayError(ErrorCode.BadRequest, `paymentsInFlightMax must be a positive integer, got ${inFlightMax}`);
    }
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#inFlight >= this.inFlightMax) {
      throw new BiopayError(ErrorCode.Unavailable, `terminal node overloaded: ${this.#inFlight} payments in flight (limit ${this.inFlightMax})`);
    }
    this.#inFlight++;
    try {
      return await work();
    } finally {
      this.#inFlight--;
    }
  }
}

async function payTouch(
  touch: Touch, pay: (request: PayRequest) => Promise<PaymentResult>, failures: FailureLog, admission: Admission,
): Promise<{ terminalId: string; result: PaymentResult }> {
  const paymentId = touch.capture.captureId;
  try {
    const amount = touch.amount;
    if (!amount) throw new BiopayError(ErrorCode.BadRequest, 'the touch carried no amount');
    const result = await admission.run(() => pay({
      paymentId, terminalId: touch.terminalId, capture: touch.capture, amount,
      action: '', item: '', context: undefined,
    }));
    return { terminalId: touch.terminalId, result };
  } catch (error) {
    const reason = asBiopayError(error);
    failures.note(reason.code, paymentId);
    return {
      terminalId: touch.terminalId,
      result: {
        paymentId, outcome: PaymentOutcome.PAYMENT_OUTCOME_REFUSED, refusals: [{ code: reason.code, message: reason.message }], accountId: '',
        credentialId: '', amount: touch.amount, matchScore: 0, timings: undefined, candidatesCompared: 0,
      },
    };
  }
}

async function stopPipeline(subscriptions: Subscription[], events: Subject<SensorEvent>, pipeline: RxSubscription): Promise<void> {
  await Promise.all(subscriptions.map((subscription) => subscription.drain()));
  events.complete();
  // Payments already started finish on their own (bounded by their timeouts); the rest is dropped.
  await new Promise<void>((resolve) => {
    if (pipeline.closed) resolve();
    else pipeline.add(() => resolve());
  });
}

function paymentPorts(system: ActorSystem, business: BusinessClient, identifyGate: ConcurrencyGate): PaymentPorts {
  const association = system.client(ActorKind.Association, AssociationProtocol);
  const ledger = system.client(ActorKind.Ledger, LedgerProtocol);
  return {
    // The wait for a slot counts against the identify timeout: the payment's deadline does not move.
    identify: (request, timeoutMs) => identifyGate.run(timeoutMs, (remainingMs) =>
      association.ask(request.capture?.captureId ?? '', 'identify', request, { timeoutMs: remainingMs })),
    authorize: (accountId, request, timeoutMs) => ledger.ask(accountId, 'authorize', request, { timeoutMs }),
    business: (command, timeoutMs) => business.execute(command, timeoutMs),
    businessRecord: (paymentId, waitMs) => business.recordOf(paymentId, waitMs),
    capture: (accountId, request, timeoutMs) => ledger.ask(accountId, 'capture', request, { timeoutMs }),
    void: (accountId, request, timeoutMs) => ledger.ask(accountId, 'void', request, { timeoutMs }),
  };
}
