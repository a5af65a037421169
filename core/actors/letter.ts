/** One message on its way to an actor, and the errors the runtime itself produces for it. */
import { BiopayError, ErrorCode } from '../errors.js';

export interface Letter {
  readonly method: string;
  readonly message: unknown;
  /** Absolute deadline in Unix epoch ms; 0 means none (tell). Expired letters are dropped unprocessed. */
  readonly deadlineMs: number;
  /** Called exactly once with the outcome. */
  readonly settle: (error: BiopayError | undefined, result?: unknown) => void;
}

export function timeoutError(kind: string, method: string, timeoutMs: number): BiopayError {
  return new BiopayError(ErrorCode.Timeout, `${kind}.${method}: no answer within ${timeoutMs} ms`);
}

export function expiredError(kind: string, method: string): BiopayError {
  return new BiopayError(ErrorCode.Timeout, `${kind}.${method}: deadline passed before processing`);
}

export function stoppedError(kind: string): BiopayError {
  return new BiopayError(ErrorCode.Stopped, `actor kind ${kind} is stopping`);
}

export function unknownMethodError(kind: string, method: string): BiopayError {
  return new BiopayError(ErrorCode.BadRequest, `actor kind ${kind} has no method "${method}"`);
}

/** For asks: settles a promise, and turns the deadline into a TIMEOUT on the caller's side. */
export function askLetter(
  kind: string,
  method: string,
  message: unknown,
  timeoutMs: number,
): { letter: Letter; answer: Promise<unknown> } {
  let settle!: Letter['settle'];
  const answer = new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(() => reject(timeoutError(kind, method, timeoutMs)), timeoutMs);
    settle = (error, result) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(result);
    };
  });
  return { letter: { method, message, deadlineMs: Date.now() + timeoutMs, settle }, answer };
}
