/**
 * A small test protocol built from ledger messages. The test actor's behaviour is steered by the
 * deposit's idempotencyKey: "sleep:MS", "crash", "refuse", or anything else for a plain deposit.
 */
import { BiopayError, ErrorCode } from '../../../core/errors.js';
import type { Actor, ActorKindOptions } from '../../../core/actors/index.js';
import { ActorSystem } from '../../../core/actors/index.js';
import type { ActorLogger } from '../../../core/actors/index.js';
import { Account, DepositRequest, GetAccountRequest } from '../../../proto/gen/biopay/v1/ledger.js';
import { afterAll, beforeAll } from 'vitest';
import { connectNats, type NatsConnection } from '../../../core/transport/nats.js';
import { startNatsServer, type NatsServerHandle } from '../../helpers/nats-server.js';

export const TestProtocol = {
  deposit: { request: DepositRequest, response: Account },
  get: { request: GetAccountRequest, response: Account },
} as const;

export const KIND = 'testacct';

/** Counts of lifecycle calls per key, shared by every instance the factory makes. */
export class Journal {
  readonly starts = new Map<string, number>();
  readonly stops = new Map<string, number>();
  readonly startTimesMs = new Map<string, number[]>();
  /** Every message seen, in processing order: `${key}:${amount}`. */
  readonly processed: string[] = [];
  active = 0;
  activeMax = 0;

  count(map: Map<string, number>, key: string): number {
    return map.get(key) ?? 0;
  }
}

export class TestActor implements Actor {
  private balanceMinor = 0n;
  private sequence = 0n;

  constructor(
    private readonly key: string,
    private readonly journal: Journal,
  ) {}

  async start(): Promise<void> {
    this.journal.starts.set(this.key, this.journal.count(this.journal.starts, this.key) + 1);
    const times = this.journal.startTimesMs.get(this.key) ?? [];
    times.push(Date.now());
    this.journal.startTimesMs.set(this.key, times);
  }

  async stop(): Promise<void> {
    this.journal.stops.set(this.key, this.journal.count(this.journal.stops, this.key) + 1);
  }

  async receive(method: string, message: unknown): Promise<unknown> {
    this.journal.active++;
    this.journal.activeMax = Math.max(this.journal.activeMax, this.journal.active);
    try {
      if (method === 'get') return this.account();
      return await this.deposit(message as DepositRequest);
    } finally {
      this.journal.active--;
    }
  }

  private async deposit(request: DepositRequest): Promise<Account> {
    const command = request.idempotencyKey;
    if (command === 'crash') throw new TypeError('boom');
    if (command === 'refuse') {
      throw new BiopayError(ErrorCode.InsufficientFunds, 'not enough', {
        cause: new BiopayError(ErrorCode.InvalidState, 'account frozen'),
      });
    }
    if (command.startsWith('sleep:')) await sleep(Number(command.slice(6)));
    else if (request.amountMinor % 3n === 0n) await sleep(1); // vary timing to expose reordering
    this.balanceMinor += request.amountMinor;
    this.sequence++;
    this.journal.processed.push(`${this.key}:${request.amountMinor}`);
    return this.account();
  }

  private account(): Account {
    return Account.fromPartial({ accountId: this.key, balanceMinor: this.balanceMinor, heldMinor: this.sequence });
  }
}

export function deposit(amountMinor: bigint, idempotencyKey = ''): DepositRequest {
  return { accountId: '', amountMinor, idempotencyKey };
}

/** Collects log records so tests stay quiet and can assert on them. */
export function memoryLogger(): { logger: ActorLogger; records: { event: string; fields: object }[] } {
  const records: { event: string; fields: object }[] = [];
  return { logger: (_level, event, fields) => records.push({ event, fields }), records };
}

export interface Deployment {
  /** The system whose clients the test uses. */
  readonly caller: ActorSystem;
  /** The system hosting the actors (the caller itself when local). */
  readonly host: ActorSystem;
  readonly journal: Journal;
  stop(): Promise<void>;
}

/** The test kind either in the caller's own system, or served over NATS by a second system. */
export async function deploy(
  mode: 'local' | 'remote',
  options: { nats?: () => NatsConnection; kind?: ActorKindOptions; shardCount?: number } = {},
): Promise<Deployment> {
  const journal = new Journal();
  const { logger } = memoryLogger();
  const nats = options.nats?.();
  const host = new ActorSystem({ nodeId: 'host', nats, logger, shardCount: options.shardCount });
  host.register(KIND, TestProtocol, (key) => new TestActor(key, journal), options.kind);
  if (mode === 'local') return { caller: host, host, journal, stop: () => host.drain() };
  await host.serve(KIND);
  const caller = new ActorSystem({ nodeId: 'caller', nats, logger, shardCount: options.shardCount });
  return {
    caller,
    host,
    journal,
    stop: async () => {
      await caller.drain();
      await host.drain();
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/** Registers hooks that give the test file its own nats-server and a connection to it. */
export function useNatsServer(name: string, options: { jetstream?: boolean } = {}): () => NatsConnection {
  let server: NatsServerHandle | undefined;
  let nc: NatsConnection | undefined;
  beforeAll(async () => {
    server = await startNatsServer(options);
    nc = await connectNats({ servers: server.url, name });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });
  return () => {
    if (!nc) throw new Error('nats-server not started yet');
    return nc;
  };
}
