/**
 * Every app setting (environment variable) the broker reads, in one place: Bicep app settings,
 * local.settings.sample.json and README name exactly these (a test pins that).
 */
export const SETTINGS = {
  /** path of the policy file (YAML); default `qb.yaml` in the working directory */
  QB_CONFIG: 'QB_CONFIG',
  /** audit Blob Storage endpoint for managed identity, e.g. https://acct.blob.core.windows.net */
  QB_AUDIT_BLOB_ENDPOINT: 'QB_AUDIT_BLOB_ENDPOINT',
  /** audit Blob Storage connection string (local: Azurite); used only when no endpoint is set */
  QB_AUDIT_CONNECTION_STRING: 'QB_AUDIT_CONNECTION_STRING',
  /** audit container name; default `audit` */
  QB_AUDIT_CONTAINER: 'QB_AUDIT_CONTAINER',
  /** Key Vault URL, e.g. https://kv-name.vault.azure.net */
  QB_KEY_VAULT_URL: 'QB_KEY_VAULT_URL',
  /** fully qualified Service Bus namespace, e.g. sb-name.servicebus.windows.net */
  QB_SERVICE_BUS_NAMESPACE: 'QB_SERVICE_BUS_NAMESPACE',
  /** Service Bus topic for broker events; default `broker-events` */
  QB_EVENTS_TOPIC: 'QB_EVENTS_TOPIC',
  /** Service Bus queue for approval notifications; default `approval-notifications` */
  QB_APPROVALS_QUEUE: 'QB_APPROVALS_QUEUE',
  /** Key Vault secret name holding the Teams Workflows webhook URL */
  QB_TEAMS_WEBHOOK_SECRET: 'QB_TEAMS_WEBHOOK_SECRET',
  /** public base URL of the broker, used in approval links, e.g. https://func-qb.azurewebsites.net */
  QB_PUBLIC_BASE_URL: 'QB_PUBLIC_BASE_URL',
  /** client id of the user-assigned managed identity (read by @azure/identity) */
  AZURE_CLIENT_ID: 'AZURE_CLIENT_ID',
} as const;

export type SettingName = keyof typeof SETTINGS;

export function readSetting(name: SettingName): string | undefined {
  const v = process.env[SETTINGS[name]];
  return v === undefined || v === '' ? undefined : v;
}
