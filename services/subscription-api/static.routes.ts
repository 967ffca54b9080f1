import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Router, type Response } from 'express';

/**
 * Where the browser files live: beside this module when it runs from source, and under the
 * project's `services/` when it runs compiled from `dist/` (tsc copies no `.js` assets; the
 * Dockerfile copies the folder).
 */
function findPublicDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'public'), join(here, '../../../services/subscription-api/public')];
  const found = candidates.find((dir) => existsSync(join(dir, 'axion-push.js')));
  if (!found) throw new Error(`browser client files not found in ${candidates.join(' or ')}`);
  return found;
}

/** The `mqtt` package's browser build (ES module), served so the demo loads nothing from a CDN. */
function mqttBrowserBuild(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mqtt/package.json')), 'dist', 'mqtt.esm.js');
}

const JS = 'text/javascript; charset=utf-8';

// The demo page loads only its own files and talks to the API and the broker's WebSocket.
const DEMO_CSP = [
  "default-src 'self'",
  "connect-src 'self' ws: wss:",
  "img-src 'self' data: https:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * `GET /axion-push.js` (+ its `.d.ts`) and `/service-worker.js` for every page author; with
 * `demo`, also the demo page `/` and what it loads.
 */
export function staticRoutes(options: { demo: boolean }): Router {
  const router = Router();
  const dir = findPublicDir();
  const send = (res: Response, file: string, type: string, headers: Record<string, string> = {}) => {
    // no-cache: revalidated each time, so a new release reaches browsers (and the worker) at once.
    res.sendFile(file, { headers: { 'content-type': type, 'cache-control': 'no-cache', ...headers } });
  };

  router.get('/axion-push.js', (_req, res) => send(res, join(dir, 'axion-push.js'), JS));
  router.get('/axion-push.d.ts', (_req, res) => send(res, join(dir, 'axion-push.d.ts'), 'text/plain; charset=utf-8'));
  router.get('/service-worker.js', (_req, res) => send(res, join(dir, 'service-worker.js'), JS));
  if (!options.demo) return router;

  const mqtt = mqttBrowserBuild();
  const page = { 'content-security-policy': DEMO_CSP, 'x-content-type-options': 'nosniff' };
  router.get('/', (_req, res) => send(res, join(dir, 'index.html'), 'text/html; charset=utf-8', page));
  router.get('/demo.js', (_req, res) => send(res, join(dir, 'demo.js'), JS));
  router.get('/demo.css', (_req, res) => send(res, join(dir, 'demo.css'), 'text/css; charset=utf-8'));
  router.get('/vendor/mqtt.esm.js', (_req, res) => send(res, mqtt, JS));
  return router;
}
