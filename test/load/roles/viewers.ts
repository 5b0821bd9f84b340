// Load role: technicians' viewers in one process (socket.io clients on /ws/viewer, relay only).
// Each logs in once, mints a viewer token per join, counts relay frames and chat, chats itself,
// and one viewer after another leaves and rejoins (churn). Unexpected disconnects, refused joins,
// error acks and ack timeouts on live sockets are counted.
import { io, type Socket } from 'socket.io-client';
import { PROTOCOL_VERSION } from '@guruconnect/shared/limits';
import { report, roleArgs } from '../../bench/lib/roles.ts';

interface Args {
  url: string;
  username: string;
  password: string;
  sessions: string[];
  churnPeriodMs: number;
  chatEveryMs: number;
}

const a = roleArgs<Args>();
process.on('disconnect', () => process.exit(0)); // never outlive the test

const stats = {
  joins: 0,
  joinFailures: 0,
  churns: 0,
  unexpectedDisconnects: 0,
  framesReceived: 0,
  bytesReceived: 0,
  chatsSent: 0,
  chatsReceived: 0,
  okAcks: 0,
  errorAcks: 0,
  ackTimeouts: 0,
  reasons: {} as Record<string, number>,
};
const note = (what: string) => (stats.reasons[what] = (stats.reasons[what] ?? 0) + 1);
let stopping = false;

async function http(method: string, path: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${a.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${String((json.error as { code?: string } | undefined)?.code)}`);
  return json;
}

let loginToken = '';
const slots: Array<Socket | null> = a.sessions.map(() => null);
const framesBySlot = a.sessions.map(() => 0);

async function join(slot: number): Promise<void> {
  const sessionId = a.sessions[slot]!;
  try {
    const vt = await http('POST', `/api/sessions/${sessionId}/viewer-token`, {}, loginToken);
    await new Promise<void>((resolve, reject) => {
      const s = io(a.url, {
        path: '/ws/viewer',
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        timeout: 30_000,
        query: { token: String(vt.token), session_id: sessionId, protocol: String(PROTOCOL_VERSION) },
      });
      slots[slot] = s;
      s.once('session:welcome', () => resolve());
      s.once('connect_error', (err) => reject(err));
      s.on('disconnect', (reason) => {
        if (reason === 'io client disconnect') return;
        stats.unexpectedDisconnects++;
        note(`disconnect: ${reason}`);
      });
      s.on('server:disconnect', (p: { reason?: string }) => note(`server:disconnect ${String(p?.reason)}`));
      s.on('relay:frame', (data: Uint8Array) => {
        stats.framesReceived++;
        framesBySlot[slot]!++;
        stats.bytesReceived += data.byteLength;
      });
      s.on('chat:message', () => stats.chatsReceived++);
    });
    stats.joins++;
  } catch (err) {
    stats.joinFailures++;
    note(`join: ${(err instanceof Error ? err.message : String(err)).slice(0, 80)}`);
  }
}

const timers: NodeJS.Timeout[] = [];
function startTraffic(): void {
  timers.push(
    setInterval(() => {
      for (const s of slots) {
        if (!s?.connected) continue;
        stats.chatsSent++;
        s.timeout(20_000).emit('chat:send', { text: 'hello from the load test technician' }, (err: Error | null, res: { ok: boolean; error?: { code: string } }) => {
          if (err) {
            if (s.connected && !stopping) {
              stats.ackTimeouts++;
              note('ack timeout chat:send');
            }
            return;
          }
          if (res?.ok) stats.okAcks++;
          else {
            stats.errorAcks++;
            note(`chat:send: ${res?.error?.code ?? 'no ack body'}`);
          }
        });
      }
    }, a.chatEveryMs),
  );
  let turn = 0;
  timers.push(
    setInterval(() => {
      const slot = turn++ % slots.length;
      const s = slots[slot];
      if (!s?.connected) return;
      stats.churns++;
      s.disconnect();
      slots[slot] = null;
      void join(slot);
    }, Math.max(20, Math.round(a.churnPeriodMs / Math.max(1, slots.length)))),
  );
}

process.on('message', (m: { type: string }) => {
  if (m.type === 'stats') report({ type: 'stats', ...stats, connected: slots.filter((s) => s?.connected).length });
  if (m.type === 'stop') {
    stopping = true;
    for (const t of timers) clearInterval(t);
    const connected = slots.filter((s) => s?.connected).length;
    for (const s of slots) s?.disconnect();
    report({ type: 'stopped', ...stats, connected, slotsWithoutFrames: framesBySlot.filter((n) => n === 0).length });
  }
});

void (async () => {
  loginToken = String((await http('POST', '/api/auth/login', { username: a.username, password: a.password })).token);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(10, slots.length) }, async () => {
    while (next < slots.length) await join(next++);
  }));
  report({ type: 'ready', ...stats });
  startTraffic();
})().catch((err: unknown) => {
  report({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
