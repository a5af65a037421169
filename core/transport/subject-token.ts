/**
 * Ids as one NATS subject token (and KV key): subject tokens may not hold dots, spaces or
 * wildcards, so an id that does, or that is long, is hex-encoded; a safe id is kept as it is.
 */
export function subjectToken(id: string): string {
  return /^[A-Za-z0-9_-]{1,128}$/.test(id) ? id : `x${Buffer.from(id, 'utf8').toString('hex')}`;
}
