import { z } from 'zod';
import { API_ROUTES, type ApiRoute, type RouteAuth } from './api-routes.js';
import { errorBodySchema } from './error-handler.js';

const DIALECT = 'https://json-schema.org/draft/2020-12/schema';

type JsonSchema = Record<string, unknown>;

/**
 * The request side of a schema (`io: 'input'`: a field with a default is optional to the
 * caller) as JSON Schema 2020-12, OpenAPI 3.1's dialect. Refinements (a key that must be a
 * curve point, a URL) have no JSON Schema form and are left out: the API still checks them.
 */
function jsonSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    io: 'input',
    target: 'draft-2020-12',
    unrepresentable: 'any',
  }) as JsonSchema;
  return rest;
}

/** `/v1/groups/:package/members` → `/v1/groups/{package}/members` */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function parameters(where: 'path' | 'query', schema: z.ZodObject | undefined) {
  if (!schema) return [];
  const object = jsonSchema(schema) as { properties?: Record<string, JsonSchema>; required?: string[] };
  // A parameter's description belongs to the parameter, where OpenAPI tools show it.
  return Object.entries(object.properties ?? {}).map(([name, { description, ...schema }]) => ({
    name,
    in: where,
    ...(typeof description === 'string' && { description }),
    required: where === 'path' || (object.required ?? []).includes(name),
    schema,
  }));
}

const SECURITY: Record<RouteAuth, Record<string, string[]>[]> = {
  none: [],
  user: [{ userBearer: [] }, { userCookie: [] }],
  service: [{ apiKey: [] }, { apiKeyBearer: [] }],
  admin: [{ apiKey: [] }, { apiKeyBearer: [] }],
};

const errorRef = (name: string) => ({ $ref: `#/components/responses/${name}` });

function operation(route: ApiRoute) {
  const ok = route.ok ?? 200;
  const responses: Record<string, unknown> = {
    [ok]: {
      description: 'success',
      content: { [route.produces ?? 'application/json']: {} },
    },
  };
  if (route.params || route.query || route.body) responses['400'] = errorRef('Invalid');
  if (route.auth !== 'none') {
    responses['401'] = errorRef('Unauthenticated');
    responses['403'] = errorRef('Forbidden');
  }
  if (route.body) {
    responses['413'] = errorRef('TooLarge');
    responses['415'] = errorRef('UnsupportedMediaType');
  }
  if (!route.unlimited) responses['429'] = errorRef('RateLimited');
  responses['503'] = errorRef('Unavailable');
  return {
    summary: route.summary,
    ...(route.only && { tags: [route.only] }),
    security: SECURITY[route.auth],
    parameters: [...parameters('path', route.params), ...parameters('query', route.query)],
    ...(route.body && {
      requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body) } } },
    }),
    responses,
  };
}

const errorResponse = (description: string, retryAfter = false) => ({
  description,
  ...(retryAfter && {
    headers: { 'Retry-After': { description: 'seconds to wait before trying again', schema: { type: 'integer' } } },
  }),
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

/** Which optional parts the app serves: the document lists what this app answers. */
export interface DocumentOptions {
  demo: boolean;
  metrics: boolean;
  board: boolean;
}

/** The routes an app with these options serves. */
export function servedRoutes(options: DocumentOptions): ApiRoute[] {
  return API_ROUTES.filter((r) => r.only === undefined || options[r.only]);
}

/**
 * The OpenAPI 3.1 document of the HTTP API, built from `API_ROUTES` and the zod schemas the
 * routes validate with, so it cannot drift from what the API takes.
 */
export function buildOpenApiDocument(options: DocumentOptions): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of servedRoutes(options)) {
    (paths[openApiPath(route.path)] ??= {})[route.method] = operation(route);
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: DIALECT,
    info: {
      title: 'axion-push',
      version: '1',
      description: 'Push-notification gateway: subscriptions, notification intake, groups, VAPID keys.',
    },
    paths,
    components: {
      schemas: { Error: jsonSchema(errorBodySchema) },
      securitySchemes: {
        userBearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: "A user's JWT" },
        userCookie: { type: 'apiKey', in: 'cookie', name: 'access_token', description: "A user's JWT, from pages of the API's origin" },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'A service or admin key from API_KEYS' },
        apiKeyBearer: { type: 'http', scheme: 'bearer', description: 'A service or admin key from API_KEYS' },
      },
      responses: {
        Invalid: errorResponse('invalid input: the message names each bad field'),
        Unauthenticated: errorResponse('no credentials, or credentials that do not verify'),
        Forbidden: errorResponse('not allowed for this package or operation'),
        TooLarge: errorResponse('the body, or the notification it makes, is too large'),
        UnsupportedMediaType: errorResponse('the body is not UTF-8 JSON'),
        RateLimited: errorResponse('too many requests from this caller', true),
        Unavailable: errorResponse('a dependency is down', true),
      },
    },
  };
}
