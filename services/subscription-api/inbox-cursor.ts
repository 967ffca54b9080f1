import { z } from 'zod';
import type { InboxPosition } from '../../shared/database/index.js';

/** Item ids are auto-increment integers; 15 digits stay exact as JavaScript numbers. */
const ITEM_ID = /^[1-9]\d{0,14}$/;

/** An inbox item's id as callers send it back (`ids` of `POST /v1/inbox/seen`). */
export const inboxItemIdSchema = z.string().regex(ITEM_ID, 'must be an inbox item id');

/**
 * An opaque cursor: base64url of `<created ms>.<item id>`. Both parts, because items written
 * in the same millisecond (a batch of a fan-out) are told apart only by their id.
 */
export function encodeCursor(position: InboxPosition): string {
  return Buffer.from(`${position.createdAt.getTime()}.${position.id}`).toString('base64url');
}

/** A cursor from `encodeCursor`; anything else is a validation issue, never a 500. */
export const cursorSchema = z.string().max(64).transform((text, ctx): InboxPosition => {
  const match = /^(\d{1,15})\.(\d{1,15})$/.exec(Buffer.from(text, 'base64url').toString('latin1'));
  if (!match || !ITEM_ID.test(match[2]!)) {
    ctx.addIssue({ code: 'custom', message: 'must be a cursor from an earlier answer' });
    return z.NEVER;
  }
  return { createdAt: new Date(Number(match[1])), id: match[2]! };
});
