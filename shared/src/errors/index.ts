/** Error codes as a contract: the closed union, the code → HTTP status table, AppError. */
export { ERROR_STATUS, ERROR_CODES, statusForCode, isErrorCode, type ErrorCode } from './codes.ts';
export { AppError, toErrorBody, type ErrorBody } from './app-error.ts';
