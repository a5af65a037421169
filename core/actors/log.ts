/**
 * JSON-line log records of the actor runtime. Records name the actor and the error code, never a
 * payload: payloads may hold biometric templates or secrets.
 */
export interface ActorLogFields {
  readonly kind?: string;
  readonly key?: string;
  readonly method?: string;
  readonly code?: string;
  readonly message?: string;
  readonly [field: string]: string | number | boolean | undefined;
}

export type ActorLogger = (level: 'info' | 'warn' | 'error', event: string, fields: ActorLogFields) => void;

export const stderrLogger: ActorLogger = (level, event, fields) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, event, ...fields })}\n`);
};
