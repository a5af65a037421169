/**
 * Creating a node's streams and buckets at start, retried while JetStream settles. A node started
 * with (or just after) a fresh cluster finds it electing its meta leader and then each new stream's
 * leader; on a loaded machine creating a three-replica stream can outlast the client's 5 s request
 * timeout. Those errors pass, so the setup is tried again a bounded number of times, with growing
 * pauses; any other error (a wrong configuration, no permission) fails at once.
 */
import { BiopayError, ErrorCode } from '../errors.js';
import { isJetStreamSettling } from './nats-errors.js';

/** Tries in all: with nats.js's 5 s timeout, about half a minute before the node gives up. */
export const JETSTREAM_SETUP_ATTEMPTS_MAX = 5;
const JETSTREAM_SETUP_FIRST_PAUSE_MS = 250;
const JETSTREAM_SETUP_PAUSE_MAX_MS = 2_000;

export interface JetStreamSetupOptions {
  readonly attemptsMax?: number;
  readonly firstPauseMs?: number;
  /** Told of each failed try that will be tried again (for the node's log). */
  readonly onRetry?: (attempt: number, error: unknown) => void;
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
      if (!isJetStreamSettling(error)) throw error;
      if (attempt >= attemptsMax) {
        throw new BiopayError(ErrorCode.Unavailable, `${what}: JetStream did not answer in ${attempt} tries`, { cause: error });
      }
      options.onRetry?.(attempt, error);
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
