// GuruConnect relay endpoints: an agent streaming valid codec chunks (paced by its socket's unsent
// bytes, as the agent is) on the media plane (`/ws/media`, as the agent and the web app do) or as
// socket.io `relay:frame`, and a viewer counting relayed bytes; also relay input latency probes.
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { chunkFrame, encodeFrame, readChunkHeader } from '@guruconnect/shared/codec';
import { encodeMediaEnvelope, mediaAgentNoticeSchema, mediaTicketSchema } from '@guruconnect/shared/protocol';
import { RELAY_CHUNK_MAX_BYTES } from '@guruconnect/shared/limits';
import { socketBufferedBytes } from '../../../agent/src/connection/agent-connection.ts';
import { goodputCounter, SENDER_BUFFER_BYTES, senderEnd } from '../lib/goodput.ts';
import { report, roleArgs } from '../lib/roles.ts';

interface Args {
  url: string;
  mode: 'agent' | 'viewer';
  key?: string;
  token?: string;
  sessionId?: string;
  durationMs: number;
  /** agent: stream frames; viewer: count them. 'input': viewer sends input at `rate`, agent reports latencies. */
  workload: 'frames' | 'input';
  rate?: number;
  /** agent, frames: relay chunk size (default RELAY_CHUNK_MAX_BYTES, what the agent sends). */
  chunkBytes?: number;
  /** viewer, frames: acknowledge frames (default true, as viewers do). */
  ack?: boolean;
  /** agent, frames: bytes per frame (default ~3.9 MiB). */
  frameBytes?: number;
  /** frames: the media plane (default, as the product) or socket.io `relay:frame` only. */
  transport?: 'media' | 'socketio';
  /** frames: uncounted time from the first byte (see `goodputCounter`). */
  warmupMs?: number;
}
const a = roleArgs<Args>();
// A viewer that acknowledges frames says so, as the product's viewers do (credit from the first frame).
const query = a.mode === 'agent' ? { agent_id: 'bench-agent', name: 'Bench', api_key: a.key!, protocol: '1' } : { token: a.token!, session_id: a.sessionId!, protocol: '1', ...(a.workload === 'frames' && a.ack !== false ? { relay_acks: '1' } : {}) };
const socket = io(a.url, { path: `/ws/${a.mode}`, query, transports: ['websocket'], reconnection: false });
const useMedia = a.workload === 'frames' && a.transport !== 'socketio';

/**
 * The media plane for this socket.io connection, as the agent and the web app open it. `onMessage`
 * is attached before the socket opens, as the product's clients do: the relay's first notice can
 * arrive with the upgrade response and be emitted before a listener added after `open` resolves.
 */
async function openMedia(s: Socket, onMessage: (ws: WebSocket, d: Buffer, isBinary: boolean) => void): Promise<WebSocket> {
  const ack = (await s.timeout(5000).emitWithAck('relay:media-ticket', {})) as { ok: boolean; data?: unknown };
  if (!ack.ok) throw new Error(`no media ticket: ${JSON.stringify(ack)}`);
  const t = mediaTicketSchema.parse(ack.data);
  const url = new URL(t.path, a.url.replace(/^http/, 'ws'));
  url.searchParams.set('ticket', t.ticket);
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.on('message', (d: Buffer, isBinary) => onMessage(ws, d, isBinary));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return ws;
}
socket.on('connect_error', (e) => {
  report({ type: 'error', message: e.message });
  process.exit(1);
});

if (a.mode === 'agent') {
  socket.on('session:welcome', (w: { sessionId: string }) => report({ type: 'ready', sessionId: w.sessionId }));
  const lat: number[] = [];
  socket.on('relay:input', (m: { input: { t: number } }) => lat.push(performance.timeOrigin + performance.now() - m.input.t));
  socket.on('viewer:joined', (v: { viewerId: string }) => {
    if (a.workload === 'input') {
      setTimeout(() => {
        report({ type: 'result', latencies: lat });
        process.exit(0);
      }, a.durationMs + 500);
      return;
    }
    // ~3.9 MiB frames in relay chunks, sent while the socket holds less than the baseline sender's buffer.
    const rects = Array.from({ length: Math.max(1, Math.round((a.frameBytes ?? 62 * 63_000) / 63_000)) }, (_, i) => ({ x: 0, y: 0, width: 16, height: 16, codec: 'jpeg' as const, data: new Uint8Array(63_000).fill(i) }));
    const frame = encodeFrame({ seq: 1, captureTsMs: Date.now(), keyframe: true, screenWidth: 16, screenHeight: 16, rects });
    // Chunked once and sent again and again (never modified): the relay is measured, not the
    // agent's encoder, and the baseline senders reuse one buffer too. Ids differ frame to frame.
    const pool = Array.from({ length: 4 }, (_, i) => chunkFrame(frame, i + 1, a.chunkBytes ?? RELAY_CHUNK_MAX_BYTES));
    let sent = 0;
    let queue: Uint8Array[] = [];
    const end = senderEnd(a.durationMs, a.warmupMs);
    // The server's relay credit for this viewer, as the agent honours it: no new frame while shut.
    let open = true;
    socket.on('relay:credit', (c: { viewerId: string; open: boolean }) => {
      if (c.viewerId !== v.viewerId) return;
      open = c.open;
      if (open) pump();
    });
    let send: (chunk: Uint8Array) => void = (chunk) => socket.emit('relay:frame', { to: v.viewerId, data: chunk });
    let buffered = () => socketBufferedBytes(socket);
    // A path switch waits for the end of the frame being sent (as the agent switches between updates).
    let next: { send: typeof send; buffered: typeof buffered } | null = null;
    const pump = () => {
      while (buffered() < SENDER_BUFFER_BYTES && Date.now() < end && (open || queue.length > 0)) {
        if (queue.length === 0) {
          if (next) ({ send, buffered } = next);
          next = null;
          queue = [...pool[sent++ % pool.length]!];
        }
        send(queue.shift()!);
      }
      if (Date.now() < end && !timer) timer = setTimeout(() => ((timer = null), pump()), 1);
    };
    let timer: NodeJS.Timeout | null = null;
    // As the agent: relay:frame from the start; the media plane for this viewer once the relay
    // process says it reaches it, and socket.io again if the media socket goes (a viewer on
    // another cluster node never reaches this node's relay process).
    pump();
    if (!useMedia) return;
    const overSocketIo = () => {
      next = { send: (chunk) => socket.emit('relay:frame', { to: v.viewerId, data: chunk }), buffered: () => socketBufferedBytes(socket) };
    };
    const to = [v.viewerId];
    openMedia(socket, (ws, d, isBinary) => {
      if (isBinary) return;
      const n = mediaAgentNoticeSchema.parse(JSON.parse(d.toString()));
      if (n.type === 'credit') {
        if (n.viewerId !== v.viewerId) return;
        open = n.open;
        if (open) pump();
      } else if (n.on.includes(v.viewerId)) {
        next = { send: (chunk) => ws.send(encodeMediaEnvelope(to, chunk)), buffered: () => ws.bufferedAmount + socketBufferedBytes(socket) };
      } else if (n.off.includes(v.viewerId)) overSocketIo();
    }).then(
      (ws) => ws.once('close', overSocketIo),
      (err: unknown) => process.stderr.write(`gc-endpoint: no media plane (${String(err)}); relaying over socket.io\n`),
    );
  });
} else {
  socket.on('session:welcome', () => {
    report({ type: 'ready' });
    if (a.workload === 'input') {
      const every = 1000 / (a.rate ?? 500);
      let sent = 0;
      const start = performance.now();
      const tick = () => {
        const due = Math.floor((performance.now() - start) / every);
        while (sent < due) {
          sent++;
          // ~32-byte event.
          socket.emit('relay:input', { type: 'pointer:move', x: sent % 1000, y: 5, t: performance.timeOrigin + performance.now() });
        }
        if (performance.now() - start < a.durationMs) setTimeout(tick, 1);
      };
      tick();
      return;
    }
    const count = goodputCounter(a.durationMs, a.warmupMs);
    // Acknowledge each whole frame, as viewers do (this turns on the server's credit window), on
    // the socket it came on.
    const onFrame = (d: Buffer, ack: (frameId: number) => void) => {
      count(d.length);
      if (a.ack === false) return;
      const h = readChunkHeader(d);
      if (h.index === h.count - 1) ack(h.frameId);
    };
    socket.on('relay:frame', (d: Buffer) => onFrame(d, (frameId) => socket.emit('relay:ack', { frameId })));
    if (useMedia) {
      openMedia(socket, (ws, d, isBinary) => isBinary && onFrame(d, (frameId) => ws.send(JSON.stringify({ type: 'ack', frameId })))).then(
        () => undefined,
        (err: unknown) => process.stderr.write(`gc-endpoint: no media plane (${String(err)}); frames come as relay:frame\n`),
      );
    }
  });
}
