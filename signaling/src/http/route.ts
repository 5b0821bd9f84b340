import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { AppError } from '@guruconnect/shared/errors';
import type { Permission } from '@guruconnect/shared/protocol';
import type { Principal, RequestAuthenticator } from '../identity/principal.ts';

/** Who may call a route. Every route declares one; the inventory test checks them all. */
export type AuthLevel = 'public' | 'login' | 'admin' | `perm:${Permission}`;

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface RouteContext<B, P, Q, A extends AuthLevel> {
  req: FastifyRequest;
  reply: FastifyReply;
  body: B;
  params: P;
  query: Q;
  ip: string;
  /** The caller. On `public` routes there is none: those handlers must not read it. */
  principal: Principal;
  auth: A;
}

export interface RouteDef<B = unknown, P = unknown, Q = unknown, A extends AuthLevel = AuthLevel> {
  method: Method;
  url: string;
  auth: A;
  body?: z.ZodType<B>;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  /** Status for a successful answer (default 200). */
  status?: number;
  handler(ctx: RouteContext<B, P, Q, NoInfer<A>>): Promise<unknown>;
}

/** Typed constructor for a route (lets TypeScript infer body/params/query from the schemas). */
export function route<B = undefined, P = undefined, Q = undefined, A extends AuthLevel = AuthLevel>(def: RouteDef<B, P, Q, A>): RouteDef<B, P, Q, A> {
  return def;
}

declare module 'fastify' {
  interface FastifyRequest {
    clientIp: string;
    principal?: Principal;
  }
  interface FastifyContextConfig {
    auth?: AuthLevel;
  }
}

export interface RouteEnv {
  authenticator?: RequestAuthenticator;
}

/** A route as `defineRoutes` registered it. */
export interface RegisteredRoute {
  method: Method;
  url: string;
  auth: AuthLevel;
}

const registered = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Every route `defineRoutes` registered on `app`, in order (the route inventory test reads it). */
export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  return registered.get(app) ?? [];
}

/** NUL and unpaired UTF-16 surrogates: text no database column (nor valid UTF-8) can hold. */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when any string (or key) in `value` is unstorable text. Iterative: input may nest deeply. */
function hasUnstorableText(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (UNSTORABLE.test(v)) return true;
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        if (UNSTORABLE.test(k)) return true;
        stack.push(x);
      }
    }
  }
  return false;
}

function parseWith<T>(schema: z.ZodType<T> | undefined, value: unknown, where: string): T {
  if (!schema) return undefined as T;
  if (hasUnstorableText(value)) throw new AppError('ERR_VALIDATION', `Invalid ${where}: NUL or unpaired surrogate`, { details: { where } });
  const result = schema.safeParse(value ?? (where === 'body' ? undefined : {}));
  if (!result.success) {
    const first = result.error.issues[0];
    const path = first?.path.join('.') || where;
    throw new AppError('ERR_VALIDATION', `Invalid ${where}: ${path} ${first?.message ?? ''}`.trim(), { details: { where, path } });
  }
  return result.data;
}

function allows(level: AuthLevel, principal: Principal): boolean {
  if (level === 'login' || level === 'public') return true;
  if (principal.role === 'admin') return true;
  if (level === 'admin') return false;
  return principal.permissions.includes(level.slice(5) as Permission);
}

/**
 * Register routes. Authentication and authorisation run first, then validation of
 * params, query and body; handlers never see raw input.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- heterogeneous route list
export function defineRoutes(app: FastifyInstance, routes: Array<RouteDef<any, any, any, any>>, env: RouteEnv = {}): void {
  const inventory = registered.get(app) ?? [];
  registered.set(app, inventory);
  for (const def of routes) {
    inventory.push({ method: def.method, url: def.url, auth: def.auth });
    app.route({
      method: def.method,
      url: def.url,
      config: { auth: def.auth },
      handler: async (req, reply) => {
        let principal: Principal | undefined;
        if (def.auth !== 'public') {
          if (!env.authenticator) throw new AppError('ERR_INTERNAL', 'No authenticator configured');
          principal = await env.authenticator.authenticate(req.headers.authorization);
          req.principal = principal;
          if (!allows(def.auth, principal)) throw new AppError('ERR_AUTH_FORBIDDEN', 'You are not allowed to do this');
        }
        const params = parseWith(def.params, req.params, 'params');
        const query = parseWith(def.query, req.query, 'query');
        const body = parseWith(def.body, req.body, 'body');
        const result = await def.handler({ req, reply, body, params, query, ip: req.clientIp, principal: principal as Principal, auth: def.auth });
        if (reply.sent) return reply;
        void reply.status(def.status ?? 200);
        return result === undefined ? reply.send() : result;
      },
    });
  }
}
