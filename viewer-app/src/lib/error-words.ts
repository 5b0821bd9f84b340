import type { ErrorCode } from '@guruconnect/shared/errors';
import { ApiError, type ClientErrorCode } from './services/api.ts';

/**
 * Words for people, one per error code. The server's message text is never shown: it is for
 * developers and may change; the code is the contract (docs/errors.md).
 */
const WORDS: Record<ErrorCode | ClientErrorCode, string> = {
  CLIENT_NETWORK: 'The server cannot be reached. Check your connection and try again.',
  CLIENT_BAD_RESPONSE: 'The server gave an answer this page does not understand. Reload the page and try again.',
  ERR_INTERNAL: 'Something went wrong on the server. Try again in a moment.',
  ERR_NOT_FOUND: 'That page or item does not exist.',
  ERR_VALIDATION: 'Some of what you entered is not valid. Check the fields and try again.',
  ERR_PAYLOAD_TOO_LARGE: 'That is too much data to send at once.',
  ERR_UNSUPPORTED_MEDIA_TYPE: 'The request was sent in a form the server does not accept.',
  ERR_RATE_LIMITED: 'Too many attempts. Wait a moment and try again.',
  ERR_NOT_READY: 'The server is starting or its database is unavailable. Try again shortly.',
  ERR_PROTOCOL_VERSION: 'This page and the server speak different versions. Reload the page.',
  ERR_PROTOCOL_INVALID_MESSAGE: 'A message was refused as malformed.',
  ERR_PROTOCOL_MESSAGE_TOO_LARGE: 'A message was too large to send.',
  ERR_PROTOCOL_UNKNOWN_EVENT: 'The server did not recognise a request from this page. Reload the page.',
  ERR_AUTH_REQUIRED: 'Please sign in.',
  ERR_AUTH_INVALID_CREDENTIALS: 'Wrong username or password.',
  ERR_AUTH_INVALID_TOKEN: 'Your sign-in is no longer valid. Please sign in again.',
  ERR_AUTH_TOKEN_EXPIRED: 'Your sign-in has expired. Please sign in again.',
  ERR_AUTH_TOKEN_REVOKED: 'You were signed out (your sign-in was revoked). Please sign in again.',
  ERR_AUTH_WRONG_TOKEN_KIND: 'Your sign-in cannot be used here. Please sign in again.',
  ERR_AUTH_USER_DISABLED: 'This account is disabled. Ask an administrator to enable it.',
  ERR_AUTH_FORBIDDEN: 'You do not have permission to do this.',
  ERR_AUTH_RATE_LIMITED: 'Too many failed sign-ins.',
  ERR_AUTH_IP_BLOCKED: 'Your network address is temporarily blocked after too many failed attempts.',
  ERR_AUTH_WEAK_PASSWORD: 'The password must be at least 12 characters long.',
  ERR_AUTH_INVALID_TICKET: 'The live connection could not be authorised. Reload the page.',
  ERR_AUTH_ORIGIN_FORBIDDEN: 'This page is not allowed to connect to the server (origin not allowed).',
  ERR_USER_NOT_FOUND: 'That user does not exist.',
  ERR_USER_EXISTS: 'A user with that name already exists.',
  ERR_USER_LAST_ADMIN: 'This is the last active administrator: it cannot be disabled or demoted.',
  ERR_TOKEN_NOT_FOUND: 'That sign-in no longer exists.',
  ERR_AGENT_KEY_NOT_FOUND: 'That agent key does not exist.',
  ERR_AGENT_KEY_INVALID: 'The agent key is unknown or revoked.',
  ERR_AGENT_MACHINE_UNRESOLVED: 'The machine of this agent key was removed; issue a new key.',
  ERR_AGENT_UID_IN_USE: 'Another agent is already connected as this machine.',
  ERR_SESSION_NOT_FOUND: 'This session does not exist or has ended.',
  ERR_SESSION_WRONG_SESSION: 'This session link is not valid for this session.',
  ERR_SESSION_NOT_CONNECTED: 'The remote computer is not connected right now.',
  ERR_MACHINE_NOT_FOUND: 'That machine does not exist or was already removed.',
  ERR_SUPPORT_CODE_INVALID: 'This support code is not valid. Check the digits with your technician.',
  ERR_SUPPORT_CODE_EXPIRED: 'This support code has expired. Ask your technician for a new one.',
  ERR_SUPPORT_CODE_CANCELLED: 'This support code was cancelled. Ask your technician for a new one.',
  ERR_SUPPORT_CODE_USED: 'This support code was already used. Ask your technician for a new one.',
  ERR_SUPPORT_CODE_NOT_FOUND: 'This support code does not exist. Check the link with your technician.',
  ERR_SUPPORT_CODE_EXHAUSTED: 'No support code is free right now. Try again in a moment.',
  ERR_SIGNAL_NOT_ALLOWED: 'The connection set-up was refused.',
  ERR_SIGNAL_TARGET_UNKNOWN: 'The other side of the connection has gone.',
  ERR_INPUT_NOT_ALLOWED: 'This is a view-only session: your mouse and keyboard are not sent.',
  ERR_INPUT_THROTTLED: 'Input is being sent too fast; some was dropped.',
  ERR_CHAT_NOT_ALLOWED: 'You are not allowed to chat in this session.',
  ERR_MEDIA_UNAVAILABLE: 'The faster relay is unavailable; the picture keeps coming over the standard relay.',
  ERR_IP_NOT_BLOCKED: 'That address is not blocked (any more).',
  ERR_DB_UNAVAILABLE: 'The server database is unavailable. Try again shortly.',
};

/** True when `value` is a code this page has words for. */
export function isKnownCode(value: unknown): value is ErrorCode | ClientErrorCode {
  return typeof value === 'string' && Object.hasOwn(WORDS, value);
}

/** "in 3 minutes", "in 40 seconds". */
export function formatWait(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 90) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.ceil(s / 60);
  if (m < 90) return `${m} minute${m === 1 ? '' : 's'}`;
  const h = Math.ceil(m / 60);
  return `${h} hour${h === 1 ? '' : 's'}`;
}

/** Human words for anything thrown by a service; never the server's raw text. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    const words = WORDS[err.code];
    return err.retryAfterS !== null && err.status === 429 ? `${words} Try again in ${formatWait(err.retryAfterS)}.` : words;
  }
  if (isKnownCode(err)) return WORDS[err];
  if (typeof err === 'object' && err !== null && isKnownCode((err as { code?: unknown }).code)) return WORDS[(err as { code: ErrorCode }).code];
  return 'Something went wrong. Try again.';
}
