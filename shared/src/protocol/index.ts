/**
 * The protocol: zod schemas for every HTTP body, socket.io payload and ack, and
 * data-channel message. Types come from `z.infer` only.
 */
export * from './common.ts';
export * from './http-health.ts';
export { PROTOCOL_VERSION } from '../limits.ts';
export * from './audit.ts';
export * from './http-auth.ts';
export * from './http-users.ts';
export * from './data-channel.ts';
export * from './planes.ts';
export * from './http-sessions.ts';
export * from './updates.ts';
export * from './media-plane.ts';
