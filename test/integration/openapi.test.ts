import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import express, { Router, type Express } from 'express';
import { API_ROUTES, type ApiRoute } from '../../services/subscription-api/api-routes.js';
import { createApp, type AppDeps } from '../../services/subscription-api/create-app.js';
import { inboxListQuerySchema } from '../../services/subscription-api/inbox.routes.js';
import { openApiPath } from '../../services/subscription-api/openapi-document.js';
import { createHttpMetrics, createMetricsRegistry } from '../../shared/metrics/index.js';
import { servedRoutes, type ServedRoute } from '../support/express-routes.js';
import { testLogger } from '../support/silent-logger.js';
import { TEST_JWT_SECRET } from '../support/tokens.js';

/** A dependency no route may touch while the app is built or `/openapi.json` is served. */
function unused<T extends object>(name: string): T {
  return new Proxy({} as T, {
    get(_target, property) {
      if (property === 'then') return undefined;
      throw new Error(`${name}.${String(property)} was used`);
    },
  });
}

function appWith(options: { demo: boolean; metrics: boolean; board?: boolean }): Express {
  const registry = createMetricsRegistry();
  const deps: AppDeps = {
    auth: unused('auth'),
    subscriptions: unused('subscriptions'),
    vapidKeys: unused('vapidKeys'),
    notifications: unused('notifications'),
    groups: unused('groups'),
    inbox: unused('inbox'),
    inboxQueue: unused('inboxQueue'),
    routeQueue: unused('routeQueue'),
    status: unused('status'),
    endpointPolicy: unused('endpointPolicy'),
    log: testLogger(),
    ...(options.metrics && { metrics: { registry, httpMetrics: createHttpMetrics(registry) } }),
    ...(options.board && { boardQueues: [] }),
    ...(options.demo && { demo: { jwtSecret: TEST_JWT_SECRET, mqttWsPort: null, topicRoot: 'axion' } }),
  };
  return createApp(deps);
}

type Document = {
  openapi: string;
  jsonSchemaDialect: string;
  paths: Record<string, Record<string, any>>;
  components: { schemas: Record<string, any>; responses: Record<string, any> };
};

async function fetchDocument(app: Express): Promise<Document> {
  const server: Server = createServer(app).listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/openapi.json`);
    expect(res.status).to.equal(200);
    return (await res.json()) as Document;
  } finally {
    server.close();
  }
}

const documented = (doc: Document) =>
  Object.entries(doc.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`));

const under = (root: string, path: string) => path === root || path.startsWith(`${root}/`);

/** Served routes that neither have an operation in the document nor sit under a documented subtree. */
function undocumented(routes: ServedRoute[], doc: Document, table: readonly ApiRoute[] = API_ROUTES): string[] {
  const operations = new Set(documented(doc));
  const subtrees = table.filter((r) => r.subtree).map((r) => r.path);
  return routes
    .filter((r) => !operations.has(`${r.method} ${openApiPath(r.path)}`))
    .filter((r) => !subtrees.some((root) => under(root, r.path)))
    .map((r) => `${r.method.toUpperCase()} ${r.path}`);
}

/** Documented operations the app does not serve (a subtree counts when anything under it is served). */
function unserved(routes: ServedRoute[], doc: Document, table: readonly ApiRoute[] = API_ROUTES): string[] {
  const served = new Set(routes.map((r) => `${r.method} ${openApiPath(r.path)}`));
  const subtrees = table.filter((r) => r.subtree).map((r) => openApiPath(r.path));
  return documented(doc).filter((op) => {
    if (served.has(op)) return false;
    const root = subtrees.find((path) => op.endsWith(` ${path}`));
    return !(root && routes.some((r) => under(root, openApiPath(r.path))));
  });
}

describe('GET /openapi.json', function () {
  for (const options of [{ demo: true, metrics: true, board: true }, { demo: false, metrics: false, board: false }]) {
    const label = options.demo ? 'with the demo page, metrics and the queue board on' : 'with the demo page, metrics and the queue board off';

    it(`documents every route the app serves, and only those, ${label}`, async function () {
      const app = appWith(options);
      const routes = servedRoutes(app);
      const doc = await fetchDocument(app);

      expect(routes.length).to.be.greaterThan(10);
      expect(undocumented(routes, doc)).to.deep.equal([]);
      expect(unserved(routes, doc)).to.deep.equal([]);
      expect(Object.keys(doc.paths).includes('/demo/session')).to.equal(options.demo);
      expect(Object.keys(doc.paths).includes('/metrics')).to.equal(options.metrics);
      expect(Object.keys(doc.paths).includes('/admin/queues')).to.equal(options.board);
    });
  }

  it('finds a route added without its line in the route table, also under a router or an app mounted at a path', async function () {
    const app = appWith({ demo: false, metrics: false });
    const doc = await fetchDocument(app);
    app.get('/v1/forgotten', (_req, res) => res.json({}));
    const mounted = Router();
    mounted.post('/things/:id', (_req, res) => res.json({}));
    app.use('/v1/mounted', mounted);
    // A library's UI is often an Express app of its own, whose routes cannot be read.
    app.use('/v1/board', express());

    expect(undocumented(servedRoutes(app), doc)).to.deep.equal(['GET /v1/forgotten', 'POST /v1/mounted/things/:id', 'USE /v1/board']);
    const table: ApiRoute[] = [
      ...API_ROUTES,
      { method: 'get', path: '/v1/mounted', auth: 'admin', summary: 'an API', subtree: true },
      { method: 'get', path: '/v1/board', auth: 'admin', summary: 'a UI', subtree: true },
    ];
    expect(undocumented(servedRoutes(app), doc, table)).to.deep.equal(['GET /v1/forgotten']);
  });

  it('finds a documented route the app no longer serves', async function () {
    const app = appWith({ demo: false, metrics: false });
    const doc = await fetchDocument(app);
    const routes = servedRoutes(app).filter((r) => r.path !== '/v1/vapid/:package');

    expect(unserved(routes, doc)).to.deep.equal(['get /v1/vapid/{package}']);
  });

  it('is an OpenAPI 3.1 document whose request schemas are the zod schemas the routes validate with', async function () {
    const doc = await fetchDocument(appWith({ demo: true, metrics: true }));

    expect(doc.openapi).to.equal('3.1.0');
    expect(doc.jsonSchemaDialect).to.equal('https://json-schema.org/draft/2020-12/schema');
    const notify = doc.paths['/v1/notifications']!['post'];
    const body = notify.requestBody.content['application/json'].schema;
    expect(body.required).to.include.members(['title', 'package', 'target']);
    expect(body.properties.title).to.include({ type: 'string', minLength: 1, maxLength: 200 });
    expect(body.properties.urgency.enum).to.deep.equal(['very-low', 'low', 'normal', 'high']);
    expect(body.additionalProperties).to.equal(false);
    expect(notify.responses).to.have.keys('202', '400', '401', '403', '413', '415', '429', '503');
    expect(notify.security).to.deep.equal([{ apiKey: [] }, { apiKeyBearer: [] }]);

    const members = doc.paths['/v1/groups/{package}/{group}/members']!['get'];
    expect(members.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).to.deep.equal([
      'path:package', 'path:group', 'query:after', 'query:limit',
    ]);
    expect(members.parameters[3].schema).to.include({ type: 'integer', minimum: 1, maximum: 1000, default: 100 });

    for (const [path, operations] of Object.entries(doc.paths)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const operation of Object.values(operations)) {
        const inPath = operation.parameters.filter((p: { in: string }) => p.in === 'path').map((p: { name: string }) => p.name);
        expect(inPath, path).to.deep.equal(names);
        expect(Object.keys(operation.responses).length, path).to.be.greaterThan(1);
        const unlimited = API_ROUTES.some((r) => openApiPath(r.path) === path && r.unlimited === true);
        expect(Object.keys(operation.responses).includes('429'), `429 of ${path}`).to.equal(!unlimited);
      }
    }
    expect(doc.components.schemas['Error'].properties.error.required).to.deep.equal(['code', 'message']);
    expect(doc.components.responses['RateLimited'].headers).to.have.key('Retry-After');
  });

  it('describes the inbox states unseen, seen and all and the before and after cursors, and the README says the same', async function () {
    const doc = await fetchDocument(appWith({ demo: false, metrics: false }));
    const parameters = doc.paths['/v1/inbox']!['get'].parameters as { name: string; description?: string; schema: any }[];
    const byName = new Map(parameters.map((p) => [p.name, p]));

    expect([...byName.keys()]).to.deep.equal(['package', 'state', 'before', 'after', 'limit']);
    expect(byName.get('state')!.schema).to.deep.include({ enum: ['unseen', 'seen', 'all'], default: 'all' });
    for (const name of ['state', 'before', 'after', 'limit']) expect(byName.get(name)!.description, name).to.be.a('string');
    expect(byName.get('before')!.description).to.match(/older/);
    expect(byName.get('after')!.description).to.match(/newer/).and.match(/`next`/);

    // The README (DESIGN's route line predates `state=all` and `after`; docs/decisions.md).
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const route = /^\| `GET \/v1\/inbox\?([^`]*)`/m.exec(readme)?.[1];
    const inQuery = [...(route ?? '').matchAll(/(\w+)=/g)].map((m) => m[1]);
    expect(inQuery, 'the README route line').to.deep.equal(Object.keys(inboxListQuerySchema.shape));
    expect(readme).to.include('`state` is `unseen`, `seen` or `all` (default)');
    expect(readme).to.match(/pass `next` as `before`/).and.match(/`cursor` as `after`/);
  });
});
