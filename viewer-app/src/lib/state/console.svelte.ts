import { createContext } from 'svelte';
import {
  consoleTicketResponseSchema,
  machineListSchema,
  sessionListSchema,
  supportCodeListSchema,
  supportCodeSchemaWire,
  type MachineWire,
  type SessionWire,
  type SupportCodeWire,
} from '@guruconnect/shared/protocol';
import type { AuthState } from './auth.svelte.ts';
import { nowIso } from '../format.ts';
import { ConsoleLink, type ConsoleLinkPhase, type MachineStatusEvent, type SessionUpdateEvent } from '../services/console-link.ts';

/**
 * The dashboard's live picture: machines, active sessions and the technician's support codes,
 * read over HTTP and kept current by the console plane.
 */
export class ConsoleState {
  machines: MachineWire[] = $state([]);
  sessions: SessionWire[] = $state([]);
  codes: SupportCodeWire[] = $state([]);
  phase: ConsoleLinkPhase = $state('connecting');
  loaded = $state(false);
  /** Code of the last failed load, if any. */
  loadError: unknown = $state(null);
  readonly #auth: AuthState;
  #link: ConsoleLink | null = null;
  #codesTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(auth: AuthState) {
    this.#auth = auth;
  }

  start(): void {
    if (this.#link) return;
    this.#link = new ConsoleLink(() => this.#auth.request('POST', '/api/auth/console-ticket', consoleTicketResponseSchema), {
      phase: (p) => (this.phase = p),
      connected: () => void this.refresh(),
      machineStatus: (m) => this.#onMachine(m),
      sessionUpdate: (s) => this.#onSession(s),
      chat: () => undefined,
    });
    this.#link.start();
    void this.refresh();
  }

  stop(): void {
    this.#link?.close();
    this.#link = null;
    if (this.#codesTimer) clearTimeout(this.#codesTimer);
  }

  async refresh(): Promise<void> {
    try {
      const canView = this.#auth.can('view');
      const [machines, sessions] = canView
        ? await Promise.all([this.#auth.request('GET', '/api/machines', machineListSchema), this.#auth.request('GET', '/api/sessions', sessionListSchema)])
        : [{ machines: [] }, { sessions: [] }];
      this.machines = machines.machines;
      this.sessions = sessions.sessions;
      await this.refreshCodes();
      this.loadError = null;
    } catch (err) {
      this.loadError = err;
    } finally {
      this.loaded = true;
    }
  }

  async refreshCodes(): Promise<void> {
    if (!this.#auth.can('manage_codes')) return;
    this.codes = (await this.#auth.request('GET', '/api/support-codes', supportCodeListSchema)).codes;
  }

  async createCode(label: string, ttlMinutes: number): Promise<SupportCodeWire> {
    const code = await this.#auth.request('POST', '/api/support-codes', supportCodeSchemaWire, { body: { label: label.trim() || undefined, ttlMinutes } });
    this.codes = [code, ...this.codes.filter((c) => c.id !== code.id)];
    return code;
  }

  async cancelCode(code: string): Promise<void> {
    const updated = await this.#auth.request('POST', `/api/support-codes/${encodeURIComponent(code)}/cancel`, supportCodeSchemaWire);
    this.codes = this.codes.map((c) => (c.id === updated.id ? updated : c));
  }

  machineName(id: string | null): string | null {
    return (id && this.machines.find((m) => m.id === id)?.name) || null;
  }

  #onMachine(m: MachineStatusEvent): void {
    if (m.removed) {
      this.machines = this.machines.filter((x) => x.id !== m.machineId);
      return;
    }
    const known = this.machines.find((x) => x.id === m.machineId);
    if (!known) {
      void this.refresh();
      return;
    }
    known.online = m.online;
    known.name = m.name;
    known.lastSeenAt = m.lastSeenAt;
    if (!m.online) known.sessionId = null;
  }

  #onSession(s: SessionUpdateEvent): void {
    const gone = s.status === 'ended' || s.status === 'removed';
    const known = this.sessions.find((x) => x.id === s.id);
    if (gone) this.sessions = this.sessions.filter((x) => x.id !== s.id);
    else if (known) {
      known.status = s.status;
      known.path = s.path;
      known.viewers = s.viewers;
    } else {
      const now = nowIso();
      this.sessions.push({ id: s.id, machineId: s.machineId, machineName: this.machineName(s.machineId), kind: s.kind, status: s.status, path: s.path, startedAt: now, lastSeenAt: now, viewers: s.viewers });
    }
    if (s.machineId && s.status === 'online') {
      const machine = this.machines.find((x) => x.id === s.machineId);
      if (machine) machine.sessionId = s.id;
    }
    // Support codes change status when their session starts or ends.
    if (s.kind === 'support') this.#refreshCodesSoon();
  }

  #refreshCodesSoon(): void {
    if (this.#codesTimer) clearTimeout(this.#codesTimer);
    this.#codesTimer = setTimeout(() => void this.refreshCodes().catch(() => undefined), 300);
  }
}

const [useConsole, setConsole] = createContext<ConsoleState>();
export { useConsole, setConsole };
