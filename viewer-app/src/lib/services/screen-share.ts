import type { ChatMessage, MediaPath } from '@guruconnect/shared/protocol';
import { ScreenEncoder } from './screen-capture.ts';
import { ShareLink, type AgentWelcome } from './share-link.ts';

/** Capture rate of the browser share. */
export const SHARE_FPS = 8;

export interface ScreenShareHandlers {
  welcome(w: AgentWelcome): void;
  viewers(list: Array<{ id: string; displayName: string; path: MediaPath | null }>): void;
  chat(m: ChatMessage): void;
  /** Sharing stopped without the user pressing Stop (`code`: why). */
  ended(code: string): void;
  inputIgnored(): void;
  /** Bytes sent in the last update, for the status line. */
  sent(bytes: number): void;
}

/** Where a capture stream comes from (the page asks the browser; tests may hand in their own). */
export type DisplayMediaSource = () => Promise<MediaStream>;

export const askForDisplay: DisplayMediaSource = () =>
  navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: SHARE_FPS, max: 15 } }, audio: false });

/**
 * The end user's screen share: the captured stream, the encoder, the agent-plane link, and a
 * worker-driven capture clock. One instance per share; `stop()` ends everything.
 */
export class ScreenShare {
  readonly #h: ScreenShareHandlers;
  #stream: MediaStream | null = null;
  #video: HTMLVideoElement | null = null;
  #encoder: ScreenEncoder | null = null;
  #link: ShareLink | null = null;
  #ticker: Worker | null = null;
  #busy = false;
  #stopped = false;

  constructor(handlers: ScreenShareHandlers) {
    this.#h = handlers;
  }

  /** Asks for the screen first (the code is only spent once the user has picked what to share). */
  async start(code: string, source: DisplayMediaSource = askForDisplay): Promise<void> {
    const stream = await source();
    if (this.#stopped) {
      for (const t of stream.getTracks()) t.stop();
      return;
    }
    this.#stream = stream;
    const track = stream.getVideoTracks()[0];
    track?.addEventListener('ended', () => this.#end('capture_ended'));
    const video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    video.srcObject = stream;
    await video.play();
    this.#video = video;
    this.#encoder = new ScreenEncoder(video);
    this.#link = new ShareLink(code, `browser-${crypto.randomUUID()}`, {
      welcome: (w) => this.#h.welcome(w),
      viewers: (list) => this.#h.viewers(list),
      chat: (m) => this.#h.chat(m),
      ended: (why) => this.#end(why),
      inputIgnored: () => this.#h.inputIgnored(),
    });
    this.#ticker = new Worker(new URL('./ticker.worker.ts', import.meta.url), { type: 'module' });
    this.#ticker.onmessage = () => void this.#tick();
    this.#ticker.postMessage({ intervalMs: Math.round(1000 / SHARE_FPS) });
  }

  sendChat(text: string): Promise<string | null> {
    return this.#link?.sendChat(text) ?? Promise.resolve('ERR_SESSION_NOT_CONNECTED');
  }

  /** Stops capturing and leaves the session. Idempotent. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#ticker?.postMessage('stop');
    this.#ticker?.terminate();
    this.#ticker = null;
    this.#link?.close();
    this.#link = null;
    for (const t of this.#stream?.getTracks() ?? []) t.stop();
    this.#stream = null;
    if (this.#video) this.#video.srcObject = null;
    this.#video = null;
    this.#encoder = null;
  }

  #end(code: string): void {
    if (this.#stopped) return;
    this.stop();
    this.#h.ended(code);
  }

  async #tick(): Promise<void> {
    const link = this.#link;
    const encoder = this.#encoder;
    if (this.#busy || !link || !encoder) return;
    const { keyframe, delta } = link.targets();
    if (keyframe.length === 0 && delta.length === 0) return;
    this.#busy = true;
    try {
      if (!encoder.capture()) return;
      let bytes = 0;
      if (keyframe.length > 0) {
        const key = await encoder.keyframe();
        if (key && !this.#stopped) {
          link.send(key, keyframe);
          bytes += key.bytes;
        }
      }
      if (delta.length > 0) {
        const update = await encoder.delta();
        if (update && !this.#stopped) {
          link.send(update, delta);
          bytes += update.bytes;
        }
      }
      if (bytes > 0) this.#h.sent(bytes);
    } catch {
      // One bad capture (the window closed mid-frame): the next tick tries again.
    } finally {
      this.#busy = false;
    }
  }
}
