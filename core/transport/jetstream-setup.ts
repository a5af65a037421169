/**
 * Creating a node's streams and buckets at start, retried while JetStream settles. A node started
 * with (or just after) a fresh cluster finds it electing its meta leader and then each new stream's
 * leader; on a loaded machine creating a three-replica stream can outlast the client's 5 s request
 * timeout. Those errors pass, so the setup is tried again a bounded number of times, with growing
 * pauses; any other error (a wrong configuration, no permission) fails at once.
 */
import { BiopayError, ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { isJetStreamDisabled, isJetStreamSettling } from './nats-errors.js';

/** Tries in all: with nats.js's 5 s timeout, about half a minute before the node gives up. */
export const JETSTREAM_SETUP_ATTEMPTS_MAX = 5;
const JETSTREAM_SETUP_FIRST_PAUSE_MS = 250;
const JETSTREAM_SETUP_PAUSE_MAX_MS = 2_000;

/** Told of each failed try that will be tried again: what was being set up, the try, its error. */
export type JetStreamSetupRetry = (what: string, attempt: number, error: unknown) => void;

export interface JetStreamSetupOptions {
  readonly attemptsMax?: number;
  readonly firstPauseMs?: number;
  readonly onRetry?: JetStreamSetupRetry;
}

/** A node's log line for each try it will make again, so that a slow start is not a silent one. */
export function logSetupRetries(log: Logger): JetStreamSetupRetry {
  return (what, attempt, error) =>
    log.warn('JetStream not ready; trying again', { what, attempt, attemptsMax: JETSTREAM_SETUP_ATTEMPTS_MAX, error: String(error) });
}

/**
 * Runs `setup` (which must be safe to repeat: create-if-absent) until it succeeds, fails with an
 * error that is not JetStream settling, or has been tried `attemptsMax` times; then throws
 * UNAVAILABLE naming `what`, with the last error as its cause.
 */
export async function setUpJetStream<T>(what: string, setup: () => Promise<T>, options: JetStreamSetupOptions = {}): Promise<T> {
  const attemptsMax = options.attemptsMax ?? JETSTREAM_SETUP_ATTEMPTS_MAX;
  let pauseMs = options.firstPauseMs ?? JETSTREAM_SETUP_FIRST_PAUSE_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await setup();
    } catch (error) {
      if (isJetStreamDisabled(error)) {
        throw new BiopayError(ErrorCode.Unavailable, `${what}: JetStream is not enabled on the NATS server or for this account (start nats-server with -js)`, { cause: error });
      }
      if (!isJetStreamSettling(error)) throw error;
      if (attempt >= attemptsMax) {
        throw new BiopayError(ErrorCode.Unavailable, `${what}: JetStream did not answer in ${attempt} tries`, { cause: error });
      }
      options.onRetry?.(what, attempt, error);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      pauseMs = Math.min(JETSTREAM_SETUP_PAUSE_MAX_MS, pauseMs * 2);
    }
  }
}

/** Two nodes starting together may both add a stream: the second one's "already in use" is fine. */
export async function addIgnoringRace(add: () => Promise<unknown>): Promise<void> {
  try {
    await add();
  } catch (error) {
    if (!/already in use|already exists/i.test(String((error as Error).message))) throw error;
  }
}
