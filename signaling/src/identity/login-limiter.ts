import { RateLimiterMemory, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { LimiterFactory } from '../security/limiter-factory.ts';
import { AppError } from '@guruconnect/shared/errors';
import { abuseKey } from '../net/client-ip.ts';

/**
 * Failed-login limits per client IP and per username (default 5 failures / 15 min).
 * Checked before any password work; counted on each failure.
 */
export class LoginLimiter {
  readonly #byIp: RateLimiterAbstract;
  readonly #byUser: RateLimiterAbstract;
  readonly #points: number;

  constructor(opts: { maxFailures: number; windowS: number; limiter?: LimiterFactory }) {
    this.#points = opts.maxFailures;
    const make = opts.limiter ?? ((spec) => new RateLimiterMemory(spec));
    this.#byIp = make({ keyPrefix: 'login-ip', points: opts.maxFailures, duration: opts.windowS });
    this.#byUser = make({ keyPrefix: 'login-user', points: opts.maxFailures, duration: opts.windowS });
  }

  /** Throws ERR_AUTH_RATE_LIMITED (429 with Retry-After) when either key is exhausted. */
  async check(ip: string, username: string): Promise<void> {
    const [a, b] = await Promise.all([this.#byIp.get(abuseKey(ip) ?? ip), this.#byUser.get(username.toLowerCase())]);
    const waits = [a, b].filter((r) => r && r.consumedPoints >= this.#points).map((r) => r!.msBeforeNext);
    if (waits.length > 0) {
      throw new AppError('ERR_AUTH_RATE_LIMITED', 'Too many failed sign-ins; try again later', { retryAfterS: Math.max(...waits) / 1000 });
    }
  }

  async fail(ip: string, username: string): Promise<void> {
    await Promise.all([this.#byIp.penalty(abuseKey(ip) ?? ip, 1), this.#byUser.penalty(username.toLowerCase(), 1)]);
  }

  async succeed(username: string): Promise<void> {
    await this.#byUser.delete(username.toLowerCase());
  }
}
