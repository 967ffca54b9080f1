export {
  AppError,
  ValidationError,
  UnauthenticatedError,
  ForbiddenError,
  NotFoundError,
  ConflictError,
  TooLargeError,
  UnavailableError,
  ConfigError,
} from './app-error.js';
