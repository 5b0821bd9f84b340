import { Redis } from 'ioredis';
import type { Logger } from '../logging/logger.ts';

/**
 * How signaling nodes talk to each other. Without REDIS_URL the bus is local: nothing is
 * published and the node works alone, exactly as before. With Redis, messages go over
 * pub/sub; a node never receives its own messages.
 */
export interface ClusterBus {
  readonly nodeId: string;
  readonly clustered: boolean;
  publish(channel: string, msg: unknown): void;
  subscribe(channel: string, handler: (msg: unknown, fromNode: string) => void): void;
  /** Binary messages addressed to one node (relay frames). */
  publishBinary(toNode: string, data: Buffer): void;
  onBinary(handler: (data: Buffer) => void): void;
  /** Nodes alive now (heartbeat keys in Redis); just this node when local. */
  liveNodes(): Promise<string[]>;
  /** The Redis connections, for the socket.io adapter and rate limiters, and the key prefix. */
  readonly redis: { pub: Redis; sub: Redis; cmd: Redis; prefix: string } | null;
  close(): Promise<void>;
}

const NODE_TTL_S = 6;

export function localBus(nodeId: string): ClusterBus {
  return {
    nodeId,
    clustered: false,
    publish: () => undefined,
    subscribe: () => undefined,
    publishBinary: () => undefined,
    onBinary: () => undefined,
    liveNodes: async () => [nodeId],
    redis: null,
    close: async () => undefined,
  };
}

export async function redisBus(url: string, nodeId: string, logger: Logger, clusterName = 'default'): Promise<ClusterBus> {
  const PREFIX = `gc:${clusterName}:`;
  const opts = { maxRetriesPerRequest: 2, enableAutoPipelining: true, lazyConnect: true } as const;
  const pub = new Redis(url, opts);
  const sub = new Redis(url, opts);
  const cmd = new Redis(url, opts);
  for (const [name, r] of [['pub', pub], ['sub', sub], ['cmd', cmd]] as const) {
    r.on('error', (err) => logger.warn({ err, conn: name }, 'redis connection error'));
  }
  await Promise.all([pub.connect(), sub.connect(), cmd.connect()]);
  const handlers = new Map<string, Array<(msg: unknown, from: string) => void>>();
  const binaryHandlers: Array<(data: Buffer) => void> = [];
  const binaryChannel = `${PREFIX}bin:${nodeId}`;
  await sub.subscribe(binaryChannel);
  sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
    const ch = channel.toString();
    if (ch === binaryChannel) {
      for (const h of binaryHandlers) h(message);
      return;
    }
    let parsed: { from: string; msg: unknown };
    try {
      parsed = JSON.parse(message.toString());
    } catch {
      return;
    }
    if (parsed.from === nodeId) return;
    for (const h of handlers.get(ch.slice(PREFIX.length)) ?? []) {
      try {
        h(parsed.msg, parsed.from);
      } catch (err) {
        logger.error({ err, channel: ch }, 'cluster handler failed');
      }
    }
  });
  const beat = () => void cmd.set(`${PREFIX}node:${nodeId}`, String(Date.now()), 'EX', NODE_TTL_S).catch(() => undefined);
  beat();
  const timer = setInterval(beat, 2000);
  timer.unref();
  return {
    nodeId,
    clustered: true,
    publish(channel, msg) {
      void pub.publish(PREFIX + channel, JSON.stringify({ from: nodeId, msg })).catch((err: unknown) => logger.warn({ err }, 'cluster publish failed'));
    },
    subscribe(channel, handler) {
      const list = handlers.get(channel) ?? [];
      if (list.length === 0) void sub.subscribe(PREFIX + channel);
      list.push(handler);
      handlers.set(channel, list);
    },
    publishBinary(toNode, data) {
      void pub.publish(`${PREFIX}bin:${toNode}`, data).catch(() => undefined);
    },
    onBinary(handler) {
      binaryHandlers.push(handler);
    },
    async liveNodes() {
      const keys = await cmd.keys(`${PREFIX}node:*`);
      return keys.map((k) => k.slice(`${PREFIX}node:`.length));
    },
    redis: { pub, sub, cmd, prefix: PREFIX },
    async close() {
      clearInterval(timer);
      await cmd.del(`${PREFIX}node:${nodeId}`).catch(() => undefined);
      pub.disconnect();
      sub.disconnect();
      cmd.disconnect();
    },
  };
}
