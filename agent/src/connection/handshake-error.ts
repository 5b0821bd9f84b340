/**
 * What a failed `/ws/agent` handshake means for the agent. The server refuses a handshake with a
 * plain HTTP status instead of `101` (`{error:{code}}` in the body, which a WebSocket client cannot
 * read); socket.io-client surfaces it as `connect_error` whose description is ws's
 * "Unexpected server response: <status>".
 */
export type HandshakeFailure =
  /** The credential will never work again (used / expired / cancelled code, unknown or revoked key, bad query): stop. */
  | { kind: 'refused'; status: number }
  /** Worth retrying later (server down, overloaded, IP temporarily blocked, uid still in use). */
  | { kind: 'transient'; status: number | null };

const UNEXPECTED_RESPONSE = /Unexpected server response: (\d{3})/;

/** The HTTP status of a refused handshake, when the error carries one. */
export function handshakeStatus(err: unknown): number | null {
  const texts: string[] = [];
  const collect = (v: unknown, depth: number) => {
    if (depth > 3 || v === null || typeof v !== 'object') return;
    const message = (v as { message?: unknown }).message;
    if (typeof message === 'string') texts.push(message);
    collect((v as { description?: unknown }).description, depth + 1);
    collect((v as { error?: unknown }).error, depth + 1);
  };
  collect(err, 0);
  for (const t of texts) {
    const m = UNEXPECTED_RESPONSE.exec(t);
    if (m) return Number(m[1]);
  }
  return null;
}

/**
 * 400 (malformed query, protocol version), 401 (bad credential) and 403 are permanent;
 * 409 (machine uid live elsewhere: the previous connection may still be closing), 429 (rate limit,
 * IP block) and 5xx are transient.
 */
export function classifyHandshakeError(err: unknown): HandshakeFailure {
  const status = handshakeStatus(err);
  if (status === 400 || status === 401 || status === 403) return { kind: 'refused', status };
  return { kind: 'transient', status };
}
