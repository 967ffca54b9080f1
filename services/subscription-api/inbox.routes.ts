import { Router } from 'express';
import { z } from 'zod';
import type { Authenticator } from '../../shared/auth/index.js';
import type { InboxStore } from '../../shared/database/index.js';
import { nameSchema, parseOrThrow } from '../../shared/events/index.js';
import type { InboxQueue } from '../../shared/queue/index.js';
import { cursorSchema, inboxItemIdSchema } from './inbox-cursor.js';
import { markInboxSeen } from './mark-inbox-seen.js';
import { readInbox } from './read-inbox.js';
import { requestUser } from './request-callers.js';

/** Items per page unless `limit` says otherwise, and the most one page holds. */
export const INBOX_PAGE = { default: 50, max: 200 } as const;

export const inboxListQuerySchema = z
  .object({
    package: nameSchema,
    state: z
      .enum(['unseen', 'seen', 'all'])
      .default('all')
      .describe('Which items: `unseen`, `seen`, or `all` (the default) of them'),
    before: cursorSchema
      .optional()
      .describe(
        'Paging back: the items older than this cursor, newest first; a page read without `after` ' +
          'has the next older page at `before` = its `next`',
      ),
    after: cursorSchema
      .optional()
      .describe(
        "Catching up: the items right after this cursor (an item's `cursor`), newest first; while " +
          'more are newer, `next` is the cursor to pass as `after` again. Not with `before`',
      ),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(INBOX_PAGE.max)
      .default(INBOX_PAGE.default)
      .describe(`Items per page, 1-${INBOX_PAGE.max}`),
  })
  .strict()
  .refine((q) => !(q.before && q.after), { message: 'give before or after, not both', path: ['after'] });

export const inboxSeenBodySchema = z.union([
  z.object({ package: nameSchema, ids: z.array(inboxItemIdSchema).min(1).max(INBOX_PAGE.max) }).strict(),
  z.object({ package: nameSchema, upTo: cursorSchema }).strict(),
]);

/** `/v1/inbox`: a user's notification history, unseen count, and marking items seen. */
export function inboxRoutes(deps: {
  auth: Authenticator;
  inbox: InboxStore;
  inboxQueue: Pick<InboxQueue, 'unseenChanged'>;
}): Router {
  const router = Router();

  router.get('/v1/inbox', async (req, res) => {
    const caller = await requestUser(deps.auth, req, res);
    const query = parseOrThrow(inboxListQuerySchema, req.query, 'query');
    res.json(await readInbox(deps, caller, query));
  });

  router.post('/v1/inbox/seen', async (req, res) => {
    const caller = await requestUser(deps.auth, req, res);
    const input = parseOrThrow(inboxSeenBodySchema, req.body, 'request');
    const result = await markInboxSeen(deps, caller, input);
    res.json({ ok: true, ...result });
  });

  return router;
}
