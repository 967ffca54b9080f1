import type { Express } from 'express';

/** A route an Express app serves: `GET /v1/vapid/:package`. */
export interface ServedRoute {
  /** Lower case; `use` for an app or middleware mounted at `path`, which may answer anything under it. */
  method: string;
  path: string;
}

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  rawPath?: string | string[];
  slash?: boolean;
}

/**
 * Every route an Express 5 app serves, found by walking its router stack (routers mounted with
 * `app.use(path, router)` included, under their path; an app or middleware mounted at a path
 * counts as one `use` entry). Fails on a path it cannot read (a regular expression), rather
 * than leave a route out.
 */
export function servedRoutes(app: Express): ServedRoute[] {
  const stack = (app as unknown as { router: { stack: Layer[] } }).router.stack;
  return walk(stack, '');
}

function walk(stack: Layer[], prefix: string): ServedRoute[] {
  const found: ServedRoute[] = [];
  for (const layer of stack) {
    if (layer.route) {
      for (const path of pathsOf(layer.route.path)) {
        for (const method of Object.keys(layer.route.methods)) found.push({ method, path: prefix + path });
      }
    } else if (layer.handle.stack) {
      const mount = layer.slash ? [''] : pathsOf(layer.rawPath);
      for (const path of mount) found.push(...walk(layer.handle.stack, prefix + path));
    } else if (!layer.slash && layer.rawPath !== undefined) {
      // Something mounted at a path whose routes cannot be read (another Express app, as a
      // library's UI is): it answers under that path all the same.
      for (const path of pathsOf(layer.rawPath)) found.push({ method: 'use', path: prefix + path });
    }
  }
  return found;
}

function pathsOf(path: unknown): string[] {
  const paths = Array.isArray(path) ? path : [path];
  if (!paths.every((p): p is string => typeof p === 'string')) {
    throw new Error(`a route path that is not a string: ${String(path)}`);
  }
  return paths;
}
