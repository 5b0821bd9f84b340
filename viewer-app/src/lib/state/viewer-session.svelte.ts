import { createContext } from 'svelte';
import { sessionListSchema, viewerTokenResponseSchema, type ChatMessage, type InputMessage, type MediaPath } from '@guruconnect/shared/protocol';
import type { AuthState } from './auth.svelte.ts';
import { FrameRenderer, type RenderStats } from '../services/frame-renderer.ts';
import { ViewerLink, type LinkPhase } from '../services/viewer-link.ts';

export type ScaleMode = 'fit' | 'actual';

/** Keyframe requests closer together than this are dropped (a keyframe is large). */
const KEYFRAME_REQUEST_MIN_INTERVAL_MS = 500;

/** One technician's view of one session: connection phase, picture, input, chat, numbers. */
export class ViewerSession {
  readonly sessionId: string;
  phase: LinkPhase = $state('connecting');
  /** Why the session ended (a code or a server reason), once `phase` is `ended`. */
  endReason: string | null = $state(null);
  control = $state(false);
  path: MediaPath | null = $state(null);
  chat: ChatMessage[] = $state([]);
  stats: RenderStats & { rttMs: number | null } = $state({ fps: 0, bytesPerS: 0, framesDrawn: 0, delayMs: null, screenWidth: 0, screenHeight: 0, lastSeq: null, codecErrors: 0, rttMs: null });
  scale: ScaleMode = $state('fit');
  /** The last input refusal code from the server, if any. */
  inputRefusal: string | null = $state(null);
  readonly #link: ViewerLink;
  readonly #renderer: FrameRenderer;
  #statsTimer: ReturnType<typeof setInterval> | null = null;
  #keyframeAskedAt = 0;

  constructor(auth: AuthState, sessionId: string) {
    this.sessionId = sessionId;
    this.#renderer = new FrameRenderer({ needKeyframe: () => this.requestKeyframe(), relayFrameDone: (id) => this.#link.ackRelayFrame(id) });
    this.#link = new ViewerLink({
      sessionId,
      mintToken: () => auth.request('POST', `/api/sessions/${sessionId}/viewer-token`, viewerTokenResponseSchema),
      sessionLive: async () => (await auth.request('GET', '/api/sessions', sessionListSchema)).sessions.some((s) => s.id === sessionId),
      handlers: {
        phase: (phase, end) => {
          this.phase = phase;
          if (phase === 'ended') this.endReason = end?.code ?? null;
        },
        welcome: (w) => (this.control = w.control),
        codecMessage: (bytes, path) => this.#renderer.push(bytes, path),
        pathChanged: (path) => {
          this.path = path;
          this.#renderer.resetStream(path);
          if (path !== 'p2p') this.stats.rttMs = null;
        },
        rtt: (ms) => (this.stats.rttMs = Math.round(ms)),
        chat: (m) => this.chat.push(m),
        inputRefused: (code) => (this.inputRefusal = code),
      },
    });
  }

  start(): void {
    this.#link.start();
    this.#statsTimer = setInterval(() => {
      const rttMs = this.stats.rttMs;
      this.stats = { ...this.#renderer.snapshot(), rttMs };
    }, 1000);
  }

  attachCanvas(canvas: HTMLCanvasElement): void {
    this.#renderer.attach(canvas);
  }

  detachCanvas(): void {
    this.#renderer.detach();
  }

  sendInput(msg: InputMessage): void {
    if (this.control && this.phase !== 'ended') this.#link.sendInput(msg);
  }

  /** Asks the agent for a full picture (at most every KEYFRAME_REQUEST_MIN_INTERVAL_MS). */
  requestKeyframe(): void {
    const now = performance.now();
    if (now - this.#keyframeAskedAt < KEYFRAME_REQUEST_MIN_INTERVAL_MS) return;
    if (this.#link.requestKeyframe()) this.#keyframeAskedAt = now;
  }

  sendChat(text: string): Promise<string | null> {
    return this.#link.sendChat(text);
  }

  leave(): void {
    if (this.#statsTimer) clearInterval(this.#statsTimer);
    this.#statsTimer = null;
    this.#link.close();
    this.#renderer.close();
  }
}

const [useViewerSession, setViewerSession] = createContext<ViewerSession>();
export { useViewerSession, setViewerSession };
