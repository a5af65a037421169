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
import { assembleCaptures, DEFAULT_CAPTURE_ASSEMBLY, type Touch } from '../../core/terminal/capture-assembler.js';
import { DEFAULT_PAYMENT_TIMEOUTS, runPayment, type PaymentPorts, type PaymentTimeouts } from '../../core/terminal/payment-saga.js';
import { TerminalRegistry } from '../../core/terminal/registry.js';
import { paymentResultSubject, SENSOR_SUBJECT_ALL, sensorSubject } from '../../core/terminal/subjects.js';

export interface TerminalNodeOptions {
  readonly nc: NatsConnection;
  readonly system: ActorSystem;
  readonly log: Logger;
  readonly timeouts?: PaymentTimeouts;
  /** Payments from sensor events in flight at most on this node; more wait in the pipeline. */
  readonly paymentsInFlightMax?: number;
  /**
   * The terminals whose sensors this node listens to. A touch's readings must reach one node, so
   * with several terminal nodes each is given its own terminals; without a list the node listens
   * to every terminal (one terminal node per network, or nodes sharing by queue group per event).
   */
  readonly sensorTerminalIds?: readonly string[];
}

export interface TerminalNode {
  readonly registry: TerminalRegistry;
  stop(): Promise<void>;
}

const SENSOR_QUEUE_GROUP = 'biopay.terminal';

export async function startTerminalNode(options: TerminalNodeOptions): Promise<TerminalNode> {
  const { nc, system, log } = options;
  const registry = await TerminalRegistry.open(nc);
  const ports = paymentPorts(system, await BusinessClient.open(nc));
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
  const pipeline = events
    .pipe(
      assembleCaptures(DEFAULT_CAPTURE_ASSEMBLY),
      mergeMap((touch) => payTouch(touch, pay, log), options.paymentsInFlightMax ?? 256),
    )
    .subscribe((result) => nc.publish(paymentResultSubject(result.terminalId), PaymentResult.encode(result.result).finish()));

  return { registry, stop: () => stopPipeline(subscriptions, events, pipeline) };
}

async function payTouch(
  touch: Touch, pay: (request: PayRequest) => Promise<PaymentResult>, log: Logger,
): Promise<{ terminalId: string; result: PaymentResult }> {
  const paymentId = touch.capture.captureId;
  try {
    if (!touch.amount) throw new BiopayError(ErrorCode.BadRequest, 'the touch carried no amount');
    const result = await pay({
      paymentId, terminalId: touch.terminalId, capture: touch.capture, amount: touch.amount,
      action: '', item: '', context: undefined,
    });
    return { terminalId: touch.terminalId, result };
  } catch (error) {
    const reason = asBiopayError(error);
    log.warn('payment from sensor events failed', { paymentId, code: reason.code });
    return {
      terminalId: touch.terminalId,
      result: {
        paymentId, outcome: PaymentOutcome.PAYMENT_OUTCOME_REFUSED, refusals: [{ code: reason.code, message: reason.message }], accountId: '',
        credentialId: '', amount: touch.amount, matchScore: 0, timings: undefined,
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

function paymentPorts(system: ActorSystem, business: BusinessClient): PaymentPorts {
  const association = system.client(ActorKind.Association, AssociationProtocol);
  const ledger = system.client(ActorKind.Ledger, LedgerProtocol);
  return {
    identify: (request, timeoutMs) => association.ask(request.capture?.captureId ?? '', 'identify', request, { timeoutMs }),
    authorize: (accountId, request, timeoutMs) => ledger.ask(accountId, 'authorize', request, { timeoutMs }),
    business: (command, timeoutMs) => business.execute(command, timeoutMs),
    capture: (accountId, request, timeoutMs) => ledger.ask(accountId, 'capture', request, { timeoutMs }),
    void: (accountId, request, timeoutMs) => ledger.ask(accountId, 'void', request, { timeoutMs }),
  };
}
