/** Messages between the PGlite thread (pglite-host.ts) and its client (pglite-thread.ts). */

export interface PGliteHostOptions {
  readonly dataDir?: string;
  /** Created when missing and made the session's search_path (checked by the client). */
  readonly schema?: string;
}

export interface HostRequest {
  readonly id: number;
  readonly sql: string;
  readonly params?: unknown[];
  /** Run as a script (several statements, no parameters, no rows): BEGIN, COMMIT, SET LOCAL... */
  readonly exec?: boolean;
  /** Close the instance; the thread ends after answering. */
  readonly close?: boolean;
}

/** Id 0 answers the opening. */
export interface HostReply {
  readonly id: number;
  readonly rows?: unknown[];
  readonly error?: SerializedError;
}

export interface SerializedError {
  readonly message: string;
  readonly fields: Record<string, string | number>;
}
