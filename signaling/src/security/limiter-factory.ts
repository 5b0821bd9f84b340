import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';

export interface LimiterSpec {
  keyPrefix: string;
  points: number;
  duration: number;
}

/** Counters shared by every node when Redis is configured; in memory otherwise. */
export type LimiterFactory = (spec: LimiterSpec) => RateLimiterAbstract;

export function limiterFactory(redis: { cmd: Redis; prefix: string } | null): LimiterFactory {
  if (!redis) return (spec) => new RateLimiterMemory(spec);
  return (spec) => new RateLimiterRedis({ ...spec, keyPrefix: `${redis.prefix}rl:${spec.keyPrefix}`, storeClient: redis.cmd, insuranceLimiter: new RateLimiterMemory(spec) });
}
