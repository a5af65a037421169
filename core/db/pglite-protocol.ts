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
  /** Run as a script (several statements, no parameters, no rows): SAVEPOINT, ROLLBACK... */
  readonly exec?: boolean;
  /** A script run first (a transaction's BEGIN and SET LOCALs, with its first statement). */
  readonly before?: string;
  /** A script run after the statement succeeded (COMMIT, with a transaction's last statement). */
  readonly after?: string;
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
