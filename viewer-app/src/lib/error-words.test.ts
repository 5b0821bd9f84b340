import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '@guruconnect/shared/errors';
import { ApiError } from './services/api.ts';
import { describeError, formatWait } from './error-words.ts';

describe('describeError', () => {
  it('has words of its own for every server code, never the server text', () => {
    const generic = describeError(new Error('x'));
    for (const code of ERROR_CODES) {
      const words = describeError(new ApiError(code, 400, 'SERVER TEXT'));
      expect(words, code).not.toBe(generic);
      expect(words).not.toContain('SERVER TEXT');
    }
  });

  it('says how long to wait on a 429 with Retry-After', () => {
    expect(describeError(new ApiError('ERR_AUTH_RATE_LIMITED', 429, 'x', 125))).toBe('Too many failed sign-ins. Try again in 3 minutes.');
    expect(describeError(new ApiError('ERR_AUTH_IP_BLOCKED', 429, 'x', 30))).toContain('30 seconds');
  });

  it('tells wrong credentials and a disabled account apart', () => {
    expect(describeError(new ApiError('ERR_AUTH_INVALID_CREDENTIALS', 401, 'x'))).toBe('Wrong username or password.');
    expect(describeError(new ApiError('ERR_AUTH_USER_DISABLED', 401, 'x'))).toContain('disabled');
  });

  it('formats waits', () => {
    expect(formatWait(1)).toBe('1 second');
    expect(formatWait(3600)).toBe('60 minutes');
    expect(formatWait(7200)).toBe('2 hours');
  });
});
