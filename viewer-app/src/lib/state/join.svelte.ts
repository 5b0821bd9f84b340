import { createContext } from 'svelte';
import { joinInfoSchema, type ChatMessage, type JoinInfo, type MediaPath } from '@guruconnect/shared/protocol';
import type { ApiClient } from '../services/api.ts';
import { ScreenShare, type DisplayMediaSource } from '../services/screen-share.ts';

/**
 * `lookup`: reading the code; `invalid`: the code cannot be used; `consent`: asking the user;
 * `starting`: the browser's picker is open; `sharing`: connected (watched or not); `stopped`: over.
 */
export type JoinPhase = 'lookup' | 'invalid' | 'consent' | 'starting' | 'sharing' | 'stopped';

/** The end user's page: who is asking, consent, and the screen share. */
export class JoinState {
  readonly code: string;
  phase: JoinPhase = $state('lookup');
  info: JoinInfo | null = $state(null);
  /** What went wrong (an error code, `not_usable`, or a share end reason). */
  problem: unknown = $state(null);
  viewers: Array<{ id: string; displayName: string; path: MediaPath | null }> = $state([]);
  chat: ChatMessage[] = $state([]);
  /** The technician tried to use the mouse or keyboard (the browser share cannot take input). */
  inputIgnored = $state(false);
  /** How the share ended: `user` (Stop pressed) or a reason. */
  endedBy: string | null = $state(null);
  readonly #api: ApiClient;
  #share: ScreenShare | null = null;

  constructor(api: ApiClient, code: string) {
    this.#api = api;
    this.code = code;
  }

  get watched(): boolean {
    return this.viewers.length > 0;
  }

  async lookup(): Promise<void> {
    this.phase = 'lookup';
    if (!/^\d{6}$/.test(this.code)) {
      this.problem = 'ERR_SUPPORT_CODE_INVALID';
      this.phase = 'invalid';
      return;
    }
    try {
      this.info = await this.#api.request('GET', `/api/join/${this.code}`, joinInfoSchema);
      if (this.info.usable) this.phase = 'consent';
      else {
        this.problem = 'not_usable';
        this.phase = 'invalid';
      }
    } catch (err) {
      this.problem = err;
      this.phase = 'invalid';
    }
  }

  async share(source?: DisplayMediaSource): Promise<void> {
    if (this.phase !== 'consent') return;
    this.phase = 'starting';
    this.problem = null;
    const share = new ScreenShare({
      welcome: () => (this.phase = 'sharing'),
      viewers: (list) => (this.viewers = list),
      chat: (m) => this.chat.push(m),
      ended: (code) => {
        this.#share = null;
        this.viewers = [];
        this.endedBy = code;
        this.phase = 'stopped';
      },
      inputIgnored: () => (this.inputIgnored = true),
      sent: () => undefined,
    });
    this.#share = share;
    try {
      await share.start(this.code, source);
    } catch (err) {
      // The user closed the picker or the browser refused: the code is still unused.
      share.stop();
      this.#share = null;
      this.problem = (err as Error).name === 'NotAllowedError' ? 'share_declined' : 'share_failed';
      this.phase = 'consent';
    }
  }

  stop(): void {
    this.#share?.stop();
    this.#share = null;
    this.viewers = [];
    this.endedBy = 'user';
    this.phase = 'stopped';
  }

  sendChat(text: string): Promise<string | null> {
    return this.#share?.sendChat(text) ?? Promise.resolve('ERR_SESSION_NOT_CONNECTED');
  }
}

const [useJoin, setJoin] = createContext<JoinState>();
export { useJoin, setJoin };
