/** A push service's answer, over either transport. */
export interface PushResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The first bytes of the push service's answer, for logs. */
  text: string;
}

/** How much of an error answer's body is kept for the log. */
export const MAX_LOGGED_BODY = 512;

/** The error of a send whose total deadline passed, whichever transport it was on. */
export const deadlineError = (timeoutMs: number) => new Error(`no complete answer within ${timeoutMs} ms`);
