export {
  AppError,
  ValidationError,
  UnauthenticatedError,
  ForbiddenError,
  NotFoundError,
  ConflictError,
  TooLargeError,
  UnsupportedMediaTypeError,
  RateLimitedError,
  UnavailableError,
  ConfigError,
} from './app-error.js';
