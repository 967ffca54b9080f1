/**
 * Package, user and group names: 1–128 characters of `[A-Za-z0-9._@-]`. The set excludes the
 * MQTT wildcards `+` and `#`, the level separator `/` and NUL, so a name can never widen a
 * subscription or add a topic level.
 */
export const NAME_PATTERN = /^[A-Za-z0-9._@-]{1,128}$/;

/** True when `value` is usable as a package, user or group name. */
export function isValidName(value: unknown): value is string {
  return typeof value === 'string' && NAME_PATTERN.test(value);
}
