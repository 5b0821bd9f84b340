// Load role: many keyed agents in one process (socket.io clients on /ws/agent). Each agent relays a
// small frame to the viewers the server announces and chats with them; "churners" drop their
// connection now and then and come back (a handshake that must reattach the same session).
// Everything unexpected is counted: disconnects the client did not ask for, error acks, ack
// timeouts on live sockets, refused handshakes.
import { io, type Socket } from 'socket.io-client';
import { chunkFrame, encodeFrame } from '@guruconnect/shared/codec';
import { PROTOCOL_VERSION } from '@guruconnect/shared/limits';
import { report, roleArgs } from '../../bench/lib/roles.ts';

interface Args {
  url: string;
  keys: string[];
  /** Global index of keys[0] (names and churner choice). */
  offset: number;
  concurrency: number;
  /** Every n-th agent (by global index) churns; 0: none. */
  churnEvery: number;
  /** Each churner reconnects about this often. */
  churnPeriodMs: number;
  frameEveryMs: number;
  chatEveryMs: number;
}

interface Agent {
  i: number;
  key: string;
  churner: boolean;
  socket: Socket | null;
  sessionId: string | null;
  /** Between the welcome and the next (re)connect. */
  welcomed: boolean;
  viewers: Set<string>;
}

const a = roleArgs<Args>();
process.on('disconnect', () => process.exit(0)); // never outlive the test

const stats = {
  handshakes: 0,
  welcomes: 0,
  reattachedSameSession: 0,
  sessionChanged: 0,
  connectErrors: 0,
  unexpectedDisconnects: 0,
  churns: 0,
  framesSent: 0,
  framesDelivered: 0,
  chatsSent: 0,
  chatsReceived: 0,
  okAcks: 0,
  errorAcks: 0,
  ackTimeouts: 0,
  reasons: {} as Record<string, number>,
};
const note = (what: string) => (stats.reasons[what] = (stats.reasons[what] ?? 0) + 1);

const { url, keys, offset } = a;
const agents: Agent[] = keys.map((key, n) => ({ i: offset + n, key, churner: a.churnEvery > 0 && (offset + n) % a.churnEvery === a.churnEvery - 1, socket: null, sessionId: null, welcomed: false, viewers: new Set() }));
const chunk = chunkFrame(
  encodeFrame({ seq: 1, captureTsMs: Date.now(), keyframe: true, screenWidth: 16, screenHeight: 16, rects: [{ x: 0, y: 0, width: 16, height: 16, codec: 'raw', data: new Uint8Array(16 * 16 * 4).fill(7) }] }),
  1,
)[0]!;
let stopping = false;

function ack(s: Socket, event: string, payload: unknown, onOk?: (data: Record<string, unknown>) => void): void {
  s.timeout(20_000).emit(event, payload, (err: Error | null, res: { ok: boolean; data?: Record<string, unknown>; error?: { code: string } }) => {
    if (err) {
      if (s.connected && !stopping) {
        stats.ackTimeouts++;
        note(`ack timeout ${event}`);
      }
      return;
    }
    if (res?.ok) {
      stats.okAcks++;
      onOk?.(res.data ?? {});
    } else {
      stats.errorAcks++;
      note(`${event}: ${res?.error?.code ?? 'no ack body'}`);
    }
  });
}

/** Connects; resolves at the welcome or the refusal. */
function connect(ag: Agent): Promise<void> {
  return new Promise((resolve) => {
    stats.handshakes++;
    const s = io(url, {
      path: '/ws/agent',
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 30_000,
      query: { agent_id: `load-${ag.i}`, name: `Load agent ${ag.i}`, api_key: ag.key, protocol: String(PROTOCOL_VERSION) },
    });
    ag.socket = s;
    ag.welcomed = false;
    ag.viewers.clear();
    s.once('session:welcome', (w: { sessionId: string }) => {
      stats.welcomes++;
      ag.welcomed = true;
      if (ag.sessionId !== null) {
        if (ag.sessionId === w.sessionId) stats.reattachedSameSession++;
        else stats.sessionChanged++;
      }
      ag.sessionId = w.sessionId;
      resolve();
    });
    s.once('connect_error', (err) => {
      stats.connectErrors++;
      note(`connect_error: ${err.message.slice(0, 80)}`);
      resolve();
    });
    s.on('disconnect', (reason) => {
      if (reason === 'io client disconnect') return;
      stats.unexpectedDisconnects++;
      note(`disconnect: ${reason}`);
    });
    s.on('server:disconnect', (p: { reason?: string }) => note(`server:disconnect ${String(p?.reason)}`));
    s.on('viewer:joined', (v: { viewerId: string }) => ag.viewers.add(v.viewerId));
    s.on('viewer:left', (v: { viewerId: string }) => ag.viewers.delete(v.viewerId));
    s.on('chat:message', () => stats.chatsReceived++);
  });
}

async function connectAll(): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < agents.length) await connect(agents[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(a.concurrency, agents.length) }, worker));
}

const timers: NodeJS.Timeout[] = [];
function startTraffic(): void {
  timers.push(
    setInterval(() => {
      for (const ag of agents) {
        if (!ag.socket?.connected || ag.viewers.size === 0) continue;
        stats.framesSent++;
        ack(ag.socket, 'relay:frame', { to: [...ag.viewers], data: chunk }, (d) => (stats.framesDelivered += Number(d.delivered ?? 0)));
      }
    }, a.frameEveryMs),
    setInterval(() => {
      for (const ag of agents) {
        if (!ag.socket?.connected || ag.viewers.size === 0) continue;
        stats.chatsSent++;
        ack(ag.socket, 'chat:send', { text: 'hello from the load test end user' });
      }
    }, a.chatEveryMs),
  );
  const churners = agents.filter((ag) => ag.churner);
  if (churners.length > 0) {
    let turn = 0;
    timers.push(
      setInterval(() => {
        const ag = churners[turn++ % churners.length]!;
        // Only an agent that is in (welcomed) drops and comes back; one still reconnecting waits.
        if (!ag.socket?.connected || !ag.welcomed) return;
        stats.churns++;
        ag.welcomed = false; // pending until the welcome of the reconnect
        ag.socket.disconnect();
        setTimeout(() => void (stopping ? undefined : connect(ag)), 100);
      }, Math.max(20, Math.round(a.churnPeriodMs / churners.length))),
    );
  }
}

process.on('message', (m: { type: string }) => {
  if (m.type === 'stats') report({ type: 'stats', ...stats, connected: agents.filter((ag) => ag.socket?.connected).length });
  if (m.type === 'stop') {
    stopping = true;
    for (const t of timers) clearInterval(t);
    const connected = agents.filter((ag) => ag.socket?.connected).length;
    const welcomePending = agents.filter((ag) => !ag.welcomed).length;
    for (const ag of agents) ag.socket?.disconnect();
    report({ type: 'stopped', ...stats, connected, welcomePending });
  }
});

const startedAt = Date.now();
void connectAll().then(() => {
  report({ type: 'ready', ms: Date.now() - startedAt, sessions: agents.map((ag) => ({ i: ag.i, sessionId: ag.sessionId, churner: ag.churner })), ...stats });
  startTraffic();
});
