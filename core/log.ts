/**
 * JSON-lines logging to stderr. Fields are caller-chosen scalars; templates and secrets are never
 * passed here (the association node logs ids and counts only).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const LEVEL_RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

export function parseLogLevel(text: string | undefined): LogLevel {
  return text === 'debug' || text === 'info' || text === 'warn' || text === 'error' ? text : 'info';
}

export function createLogger(
  options: { level?: LogLevel; fields?: LogFields; write?: (line: string) => void } = {},
): Logger {
  const minimumRank = LEVEL_RANK[options.level ?? parseLogLevel(process.env.BIOPAY_LOG_LEVEL)];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const base = options.fields ?? {};
  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    if (LEVEL_RANK[level] < minimumRank) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...base, ...fields })}\n`);
  };
  return {
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
    child: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
  };
}

/** A logger that drops everything: for the CLI's quiet modes and tests. */
export function silentLogger(): Logger {
  return createLogger({ level: 'error', write: () => undefined });
}
