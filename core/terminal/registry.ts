/**
 * The terminals of the network and the merchant account each pays into, kept in a NATS KV bucket so
 * every terminal node and the gateway see the same registry.
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { Terminal } from '../../proto/gen/biopay/v1/payment.js';
import { BiopayError, ErrorCode } from '../errors.js';
import { subjectToken } from '../transport/subject-token.js';
import { setUpJetStream, type JetStreamSetupRetry } from '../transport/jetstream-setup.js';
import { streamReplicas } from '../transport/replicas.js';
import { encodeMessage } from '../protobuf.js';

export const TERMINALS_BUCKET = 'biopay_terminals';
/** Terminals cached per node at most; a miss reads the bucket again. */
const CACHE_ENTRIES_MAX = 100_000;
/** A cached terminal is re-read after this long, so a re-registration reaches every node. */
const CACHE_TTL_MS = 5_000;

export class TerminalRegistry {
  private readonly cache = new Map<string, { terminal: Terminal; readUnixMs: number }>();

  private constructor(private readonly kv: KV) {}

  static async open(nc: NatsConnection, onRetry?: JetStreamSetupRetry): Promise<TerminalRegistry> {
    const kvm = new Kvm(nc);
    const kv = await setUpJetStream(`terminal registry (bucket ${TERMINALS_BUCKET})`, () =>
      kvm.create(TERMINALS_BUCKET, { history: 1, replicas: streamReplicas() }),
      { onRetry },
    );
    return new TerminalRegistry(kv);
  }

  async register(terminal: Terminal): Promise<Terminal> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(terminal.terminalId)) {
      throw new BiopayError(ErrorCode.BadRequest, 'terminal id must be 1-64 letters, digits, - or _');
    }
    if (!terminal.merchantAccountId) {
      throw new BiopayError(ErrorCode.BadRequest, 'a terminal needs the merchant account it pays into');
    }
    await this.kv.put(subjectToken(terminal.terminalId), encodeMessage(Terminal, terminal));
    this.remember(terminal);
    return terminal;
  }

  async get(terminalId: string): Promise<Terminal> {
    const cached = this.cache.get(terminalId);
    if (cached && Date.now() - cached.readUnixMs < CACHE_TTL_MS) return cached.terminal;
    const entry = await this.kv.get(subjectToken(terminalId));
    if (!entry || entry.length === 0) {
      throw new BiopayError(ErrorCode.NotFound, `unknown terminal ${terminalId}`);
    }
    const terminal = Terminal.decode(entry.value);
    this.remember(terminal);
    return terminal;
  }

  private remember(terminal: Terminal): void {
    if (this.cache.size >= CACHE_ENTRIES_MAX) this.cache.clear();
    this.cache.set(terminal.terminalId, { terminal, readUnixMs: Date.now() });
  }
}
