/**
 * `func start` on a developer's machine: the Functions host with a local dev issuer instead of
 * Entra ID, so a query can be made without a tenant. Off unless the local setting
 * QB_LOCAL_DEV_ISSUER is exactly `true` (local.settings.json); Azure never has that setting
 * (infra/ never sets it, a test pins that), and if it ever appears on App Service the broker
 * refuses to start rather than trust self-issued tokens.
 */
import { BrokerError } from '../errors.js';

export const LOCAL_DEV_ISSUER_SETTING = 'QB_LOCAL_DEV_ISSUER';

/** Variables App Service (Flex Consumption included) sets on every instance. */
const AZURE_MARKERS = ['WEBSITE_SITE_NAME', 'WEBSITE_INSTANCE_ID', 'WEBSITE_OWNER_NAME'] as const;

export function runningOnAppService(env: NodeJS.ProcessEnv = process.env): boolean {
  return AZURE_MARKERS.some((name) => (env[name] ?? '') !== '');
}

/** true: the local dev issuer is wanted and allowed; throws when it is asked for on App Service. */
export function localDevIssuerEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = (env[LOCAL_DEV_ISSUER_SETTING] ?? '').trim().toLowerCase();
  if (value !== 'true') return false;
  if (runningOnAppService(env)) {
    throw new BrokerError(
      'dependency_unavailable',
      `${LOCAL_DEV_ISSUER_SETTING}=true is set on App Service. The local dev issuer signs its own tokens and is for func start on a developer machine only: remove the app setting.`,
    );
  }
  return true;
}
