/**
 * The title of a Message received on a push topic; null for the inbox's unseen counts, which
 * follow Messages on the same topic and carry no title.
 */
export function messageTitle(payload: Buffer): string | null {
  const message = JSON.parse(payload.toString()) as { title?: string; type?: string };
  return message.type === 'unseen' ? null : (message.title ?? null);
}
