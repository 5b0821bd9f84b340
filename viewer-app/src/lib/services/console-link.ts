import type { Socket } from 'socket.io-client';
import { z } from 'zod';
import { chatMessageSchema, consoleTicketResponseSchema, machineStatusSchema, sessionUpdateSchema, type ChatMessage } from '@guruconnect/shared/protocol';
import { ApiError } from './api.ts';
import { backoffMs, onValid, openPlane } from './plane-socket.ts';

export const machineStatusEventSchema = machineStatusSchema.extend({ removed: z.boolean().optional() });
export type MachineStatusEvent = z.infer<typeof machineStatusEventSchema>;
export type SessionUpdateEvent = z.infer<typeof sessionUpdateSchema>;

export type ConsoleLinkPhase = 'connecting' | 'live' | 'reconnecting' | 'stopped';

export interface ConsoleLinkHandlers {
  phase(p: ConsoleLinkPhase): void;
  /** Connected (again): anything may have changed while away, so lists should be re-read. */
  connected(): void;
  machineStatus(m: MachineStatusEvent): void;
  sessionUpdate(s: SessionUpdateEvent): void;
  chat(m: ChatMessage): void;
}

const disconnectSchema = z.object({ reason: z.string() });

/**
 * The console plane: live machine and session notifications. Each (re)connection redeems a new
 * single-use, 30-second ticket from `POST /api/auth/console-ticket`, so the login token never
 * travels in a URL.
 */
export class ConsoleLink {
  readonly #fetchTicket: () => Promise<z.infer<typeof consoleTicketResponseSchema>>;
  readonly #h: ConsoleLinkHandlers;
  #socket: Socket | null = null;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;

  constructor(fetchTicket: () => Promise<z.infer<typeof consoleTicketResponseSchema>>, handlers: ConsoleLinkHandlers) {
    this.#fetchTicket = fetchTicket;
    this.#h = handlers;
  }

  start(): void {
    void this.#connect();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#drop();
    this.#h.phase('stopped');
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    this.#h.phase(this.#attempt === 0 ? 'connecting' : 'reconnecting');
    let ticket: string;
    try {
      ticket = (await this.#fetchTicket()).ticket;
    } catch (err) {
      // A dead login token signs the app out; nothing to retry then.
      if (err instanceof ApiError && err.status === 401) return this.close();
      return this.#retry();
    }
    if (this.#closed) return;
    const socket = openPlane('/ws/console', { ticket });
    this.#socket = socket;
    socket.on('connect', () => {
      this.#attempt = 0;
      this.#h.phase('live');
      this.#h.connected();
    });
    socket.on('connect_error', () => this.#socket === socket && this.#retry());
    socket.on('disconnect', () => this.#socket === socket && this.#retry());
    onValid(socket, 'server:disconnect', disconnectSchema, (m) => {
      if (m.reason === 'token_revoked' || m.reason === 'user_revoked') this.close();
    });
    onValid(socket, 'machine:status', machineStatusEventSchema, (m) => this.#h.machineStatus(m));
    onValid(socket, 'session:update', sessionUpdateSchema, (s) => this.#h.sessionUpdate(s));
    onValid(socket, 'chat:message', chatMessageSchema, (m) => this.#h.chat(m));
  }

  #retry(): void {
    if (this.#closed) return;
    this.#drop();
    this.#h.phase('reconnecting');
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#connect();
    }, backoffMs(this.#attempt++));
  }

  #drop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const socket = this.#socket;
    this.#socket = null;
    if (socket) {
      socket.removeAllListeners();
      socket.disconnect();
    }
  }
}
