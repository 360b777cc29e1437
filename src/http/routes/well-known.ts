/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728): how an MCP client, or any OAuth client, finds
 * where to get a token for this broker. The resource is the policy's audience (the Entra app ID
 * URI that tokens must carry in `aud`); the authorization server is the Entra tenant's v2.0
 * issuer, or the local dev issuer.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { BrokerApp, HttpEnv } from '../app.js';
import { json } from '../schemas.js';
import { PROTECTED_RESOURCE_METADATA_PATH, publicBase } from '../resource-metadata.js';

export { PROTECTED_RESOURCE_METADATA_PATH, protectedResourceMetadataUrl, publicBase } from '../resource-metadata.js';


/** The RFC 9728 locations: the root form, and the form derived from the MCP endpoint's path. */
const ROOT_PATHS = ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/api/mcp'] as const;

export const ProtectedResourceMetadata = z
  .object({
    resource: z.string().openapi({ example: 'api://query-broker' }),
    authorization_servers: z.array(z.string()).openapi({ example: ['https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0'] }),
    scopes_supported: z.array(z.string()).openapi({ example: ['api://query-broker/.default'] }),
    bearer_methods_supported: z.array(z.literal('header')),
    resource_name: z.string(),
    resource_documentation: z.string().optional(),
  })
  .openapi('ProtectedResourceMetadata');
export type ProtectedResourceMetadata = z.infer<typeof ProtectedResourceMetadata>;

export interface WellKnownRouteDeps {
  /** `policy.audience` */
  audience: string;
  /** issuer URLs: the tenant's `https://login.microsoftonline.com/<tenant>/v2.0`, or the dev issuer locally */
  authorizationServers: string[];
  /** public base URL when the request URL is not it (e.g. behind a proxy); default: the request's origin */
  publicBaseUrl?: string;
}


export function protectedResourceMetadata(deps: WellKnownRouteDeps, base: string): ProtectedResourceMetadata {
  return {
    resource: deps.audience,
    authorization_servers: deps.authorizationServers,
    // `.default` asks Entra for the app roles granted to the client (app-only tokens) or the
    // consented permissions (delegated), which is what the broker's profiles match on.
    scopes_supported: [`${deps.audience.replace(/\/+$/, '')}/.default`],
    bearer_methods_supported: ['header'],
    resource_name: 'Query Broker',
    resource_documentation: `${base}/api/openapi.json`,
  };
}

export function registerWellKnownRoutes(app: BrokerApp, _auth: MiddlewareHandler<HttpEnv>, deps: WellKnownRouteDeps): void {
  for (const path of [PROTECTED_RESOURCE_METADATA_PATH, ...ROOT_PATHS]) {
    app.openapi(
      createRoute({
        method: 'get',
        path,
        summary: 'OAuth protected resource metadata (RFC 9728): where to get a token for this API',
        responses: { 200: json(ProtectedResourceMetadata, 'The metadata document') },
      }),
      (c) => {
        c.header('Cache-Control', 'public, max-age=3600');
        return c.json(protectedResourceMetadata(deps, publicBase(c.req.url, deps.publicBaseUrl)), 200);
      },
    );
  }
}
