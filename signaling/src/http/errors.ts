import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, toErrorBody } from '@guruconnect/shared/errors';
import { isDatabaseUnavailable } from '../db/unavailable.ts';

/** Map anything thrown by a route to `{ error: { code, message } }` with the code's status. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError | Error, req: FastifyRequest, reply: FastifyReply) => {
    const appErr = toAppError(err);
    if (appErr.code === 'ERR_INTERNAL') {
      req.log.error({ err }, 'unhandled error in request');
    } else if (appErr.code === 'ERR_DB_UNAVAILABLE') {
      req.log.warn({ code: appErr.code }, 'database unavailable');
    } else {
      req.log.debug({ code: appErr.code }, 'request refused');
    }
    if (appErr.retryAfterS !== undefined) void reply.header('retry-after', String(Math.max(1, Math.ceil(appErr.retryAfterS))));
    void reply.status(appErr.status).send(toErrorBody(appErr));
  });
  app.setNotFoundHandler((_req, reply) => {
    void reply.status(404).send(toErrorBody(new AppError('ERR_NOT_FOUND', 'No such route')));
  });
}

/**
 * Errors Fastify raises before routing (a malformed URL escape such as `/%`) skip the error
 * handler; they get the same `{ error: { code, message } }` body through this option.
 */
export function frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const appErr = toAppError(err);
  void reply.status(appErr.status).send(toErrorBody(appErr));
}

/** Unknown throwables become ERR_INTERNAL with a generic message. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const fe = err as Partial<FastifyError>;
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('ERR_PAYLOAD_TOO_LARGE', 'Request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('ERR_UNSUPPORTED_MEDIA_TYPE', 'Send application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('ERR_VALIDATION', 'Malformed request body');
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new AppError('ERR_VALIDATION', 'Malformed URL');
    default:
      break;
  }
  if (fe.statusCode === 400 || err instanceof SyntaxError) return new AppError('ERR_VALIDATION', 'Malformed request');
  // The database restarting is an outage to wait out, not a server bug: 503 with Retry-After.
  if (isDatabaseUnavailable(err)) return new AppError('ERR_DB_UNAVAILABLE', 'The database is unavailable; try again shortly', { retryAfterS: 5 });
  return new AppError('ERR_INTERNAL', 'Internal error');
}
