import { Router } from 'express';
import { buildOpenApiDocument, type DocumentOptions } from './openapi-document.js';

/** `GET /openapi.json`: the OpenAPI 3.1 document of the routes this app serves. */
export function openApiRoutes(options: DocumentOptions): Router {
  const router = Router();
  const document = buildOpenApiDocument(options);
  router.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  return router;
}
