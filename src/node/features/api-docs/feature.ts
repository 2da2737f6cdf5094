// The API description: every route registered on either listener is recorded as it is registered (a
// listener-wide hook), and the OpenAPI 3.1 documents and the docs page are built from those routes' own
// declarations on first request, then kept (the routes do not change while the node runs).
import type { NodeContext } from '../../app/context.ts';
import type { Feature } from '../../app/feature.ts';
import { recordRoutes } from '../../http/openapi/collect.ts';
import { renderDocsPage } from '../../http/openapi/docs-page.ts';
import {
  buildOpenApiDocument,
  type OpenApiDocument,
  type RegisteredRoute,
} from '../../http/openapi/document.ts';
import { NODE_VERSION } from '../identity/feature.ts';
import { FEDERATION_OPENAPI_PATH, OPENAPI_PATH, registerApiDocsRoutes } from './routes.ts';

export function apiDocsFeature(ctx: NodeContext): Feature {
  const apiRoutes: RegisteredRoute[] = [];
  let federationRoutes: RegisteredRoute[] | null = null;
  let api: OpenApiDocument | undefined;
  // The federation document names the advertised URL, fixed only once its listener listens (port 0).
  let federation: { url: string; document: OpenApiDocument } | undefined;
  let page: { url: string; html: string } | undefined;

  const apiDocument = () => {
    api ??= buildOpenApiDocument({
      listener: 'api',
      version: NODE_VERSION,
      routes: apiRoutes,
      servers: [{ url: '/', description: "this node's API listener" }],
      clientCertificate: ctx.config.apiTls === 'mtls',
    });
    return api;
  };
  const federationDocument = () => {
    if (!federationRoutes) return null;
    if (federation?.url !== ctx.nodeUrl)
      federation = {
        url: ctx.nodeUrl,
        document: buildOpenApiDocument({
          listener: 'federation',
          version: NODE_VERSION,
          routes: federationRoutes,
          servers: [
            { url: ctx.nodeUrl, description: "this node's federation listener (its advertised URL)" },
          ],
        }),
      };
    return federation.document;
  };
  const docsPage = () => {
    if (page?.url !== ctx.nodeUrl) {
      const other = federationDocument();
      page = {
        url: ctx.nodeUrl,
        html: renderDocsPage([
          { id: 'api', href: OPENAPI_PATH, document: apiDocument() },
          ...(other ? [{ id: 'federation', href: FEDERATION_OPENAPI_PATH, document: other }] : []),
        ]),
      };
    }
    return page.html;
  };

  return {
    name: 'api-docs',
    apiHooks: (app) => recordRoutes(app, apiRoutes),
    federationHooks: (app) => {
      federationRoutes = [];
      recordRoutes(app, federationRoutes);
    },
    api: async (app) =>
      registerApiDocsRoutes(app, { api: apiDocument, federation: federationDocument, page: docsPage }),
  };
}
