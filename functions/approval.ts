// The approval orchestration and its activities (src/approval/). Registration only: the
// orchestrator is the generator in src/approval/workflow/orchestrator.ts; each activity adapts its input
// to src/approval/workflow/activities.ts, whose dependencies are built on first use.
import * as df from 'durable-functions';
import { approvalOrchestrator } from '../src/approval/workflow/orchestrator.js';
import { ACTIVITY, ORCHESTRATION_NAME } from '../src/approval/types.js';
import type { ApprovalActivities } from '../src/approval/workflow/activities.js';
import { getAzureRuntime } from './runtime.js';

df.app.orchestration(ORCHESTRATION_NAME, approvalOrchestrator);

let activities: Promise<ApprovalActivities> | undefined;

function getApprovalActivities(): Promise<ApprovalActivities> {
  activities ??= buildApprovalActivities().catch((e: unknown) => {
    activities = undefined;
    throw e;
  });
  return activities;
}

async function buildApprovalActivities(): Promise<ApprovalActivities> {
  const [runtime, { createAzureApprovalActivities }, { azureCredential }, { createSecretProviderFromSettings }, { createEntraTokenSource }] = await Promise.all([
    getAzureRuntime(),
    import('../src/approval/azure.js'),
    import('../src/identity/azure-credential.js'),
    import('../src/secrets/from-settings.js'),
    import('../src/secrets/entra-token.js'),
  ]);
  const credential = azureCredential();
  return createAzureApprovalActivities({
    executor: runtime.broker,
    policy: runtime.policy,
    audit: runtime.audit,
    log: runtime.log,
    secrets: createSecretProviderFromSettings({ credential }),
    entraToken: createEntraTokenSource(credential),
    credential,
  });
}

for (const name of Object.values(ACTIVITY)) {
  df.app.activity(name, {
    handler: async (input: unknown) => {
      const all = await getApprovalActivities();
      return await (all[name] as (input: unknown) => Promise<unknown>)(input);
    },
  });
}
