import { describeError, isKnownCode } from './error-words.ts';

/** Words for why a session or a share ended (server reasons and error codes). */
const REASONS: Record<string, string> = {
  left: 'You left the session.',
  agent_left: 'The remote computer left the session.',
  session_ended: 'The session has ended.',
  session_removed: 'An administrator removed this session.',
  machine_removed: 'This machine was removed by an administrator.',
  session_reaped: 'This session was closed after a long time offline.',
  token_revoked: 'Your access to this session was revoked.',
  user_revoked: 'Your access was revoked by an administrator.',
  key_revoked: 'The agent key was revoked.',
  superseded: 'The remote computer connected again from elsewhere.',
  user: 'You stopped sharing your screen.',
  capture_ended: 'Screen sharing was stopped from the browser.',
  disconnected: 'The connection to the server was lost, so sharing stopped.',
  refused: 'The server did not accept this support code any more (it may have been used already or expired).',
};

export function describeEnd(reason: string | null): string {
  if (reason === null) return 'The session has ended.';
  if (Object.hasOwn(REASONS, reason)) return REASONS[reason]!;
  if (isKnownCode(reason)) return describeError(reason);
  return 'The session has ended.';
}
