/**
 * Where the OAuth protected resource metadata (RFC 9728) of this broker is: named by the error
 * responses (`WWW-Authenticate`) and served by routes/well-known.ts.
 */

/**
 * The metadata path every host serves: Azure Functions routes only `/api/*` (host.json
 * `routePrefix`), so this is the one `WWW-Authenticate: Bearer resource_metadata=…` names.
 */
export const PROTECTED_RESOURCE_METADATA_PATH = '/api/.well-known/oauth-protected-resource';

/** The base URL clients reach the broker at. */
export function publicBase(requestUrl: string, publicBaseUrl?: string): string {
  return (publicBaseUrl ?? new URL(requestUrl).origin).replace(/\/+$/, '');
}

/** Absolute URL of the metadata document, for `WWW-Authenticate: Bearer resource_metadata="…"`. */
export function protectedResourceMetadataUrl(requestUrl: string, publicBaseUrl?: string): string {
  return `${publicBase(requestUrl, publicBaseUrl)}${PROTECTED_RESOURCE_METADATA_PATH}`;
}
