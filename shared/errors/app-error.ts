/**
 * Errors with a stable `code` and an HTTP status. Every expected failure is one of these; any
 * other error reaching an entry point is a bug (500, logged with its stack, never shown).
 */
export class AppError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus: number,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The input does not match its schema (400). */
export class ValidationError extends AppError {
  constructor(message: string, details?: unknown) {
    super('invalid_request', message, 400, details);
  }
}

/** No credentials, or credentials that do not verify (401). */
export class UnauthenticatedError extends AppError {
  constructor(message = 'authentication required') {
    super('unauthenticated', message, 401);
  }
}

/** Authenticated, but not allowed to do this (403). */
export class ForbiddenError extends AppError {
  constructor(message: string) {
    super('forbidden', message, 403);
  }
}

export class NotFoundError extends AppError {
  constructor(message: string) {
    super('not_found', message, 404);
  }
}

export class ConflictError extends AppError {
  constructor(message: string) {
    super('conflict', message, 409);
  }
}

/** The payload cannot be delivered as one Web Push record (413). */
export class TooLargeError extends AppError {
  constructor(message: string) {
    super('too_large', message, 413);
  }
}

/** The body is not JSON in a form we read (415): another media type or charset. */
export class UnsupportedMediaTypeError extends AppError {
  constructor(message: string) {
    super('unsupported_media_type', message, 415);
  }
}

/** The caller sent more requests than its limit allows; it may try again after a while (429). */
export class RateLimitedError extends AppError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('rate_limited', message, 429);
  }
}

/** A dependency (database, Redis, broker) is down; the caller should retry later (503). */
export class UnavailableError extends AppError {
  constructor(
    message: string,
    readonly retryAfterSeconds = 5,
  ) {
    super('unavailable', message, 503);
  }
}

/** Settings that cannot work; names the variable so the operator knows what to fix. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
