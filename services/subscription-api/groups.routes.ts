import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { assertPackageAccess, type Authenticator } from '../../shared/auth/index.js';
import type { GroupStore } from '../../shared/database/index.js';
import { NotFoundError } from '../../shared/errors/index.js';
import { nameSchema, parseOrThrow } from '../../shared/events/index.js';
import { requestService } from './request-callers.js';

export const memberPathSchema = z.object({ package: nameSchema, group: nameSchema, user: nameSchema });
export const groupPathSchema = z.object({ package: nameSchema, group: nameSchema });
export const memberListQuerySchema = z.object({
  // `?after=` (empty) is the first page, as when the parameter is left out.
  after: z.preprocess((v) => (v === '' ? undefined : v), nameSchema.optional()),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** `/v1/groups/:package/:group/members`: services manage who a group fans out to. */
export function groupRoutes(deps: { auth: Authenticator; groups: GroupStore }): Router {
  const router = Router();
  const base = '/v1/groups/:package/:group/members';

  /** The caller must hold a service key covering the path's package. */
  function authorize<S extends z.ZodType<{ package: string }>>(req: Request, res: Response, schema: S): z.output<S> {
    const caller = requestService(deps.auth, req, res);
    const path = parseOrThrow(schema, req.params, 'path');
    assertPackageAccess(caller, path.package);
    return path;
  }

  router.put(`${base}/:user`, async (req, res) => {
    const { package: pkg, group, user } = authorize(req, res, memberPathSchema);
    const added = await deps.groups.add(pkg, group, user);
    res.status(added ? 201 : 200).json({ ok: true, added });
  });

  router.delete(`${base}/:user`, async (req, res) => {
    const { package: pkg, group, user } = authorize(req, res, memberPathSchema);
    if (!(await deps.groups.remove(pkg, group, user))) {
      throw new NotFoundError(`${user} is not a member of group ${group}`);
    }
    res.json({ ok: true });
  });

  router.get(base, async (req, res) => {
    const { package: pkg, group } = authorize(req, res, groupPathSchema);
    const { after, limit } = parseOrThrow(memberListQuerySchema, req.query, 'query');
    // One more than asked tells whether another page exists, so `next` is never a dead end.
    const users = await deps.groups.list(pkg, group, { after, limit: limit + 1 });
    const members = users.slice(0, limit);
    const next = users.length > limit ? members[members.length - 1] : null;
    res.json({ members, next });
  });

  return router;
}
