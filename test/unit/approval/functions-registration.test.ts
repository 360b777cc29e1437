import { describe, it, expect } from 'vitest';
import { captureFunctionRegistrations } from '../../helpers/functions-host.js';
import { ACTIVITY, ORCHESTRATION_NAME } from '../../../src/approval/types.js';

describe('approval functions (registration as the Functions host receives it)', () => {
  it('registers the orchestrator, its activities and the Service Bus notifier', async () => {
    const captured = captureFunctionRegistrations();
    await import('../../../functions/approval.js');
    await import('../../../functions/notifier.js');
    const byName = new Map(captured.map((f) => [f.name, f]));
    const registered = [...byName.keys()].join(', ');

    const orchestrator = byName.get(ORCHESTRATION_NAME);
    expect(orchestrator, registered).toBeDefined();
    expect(Object.values(orchestrator!.bindings).some((b) => b.type === 'orchestrationTrigger' && b.direction === 'in')).toBe(true);

    for (const name of Object.values(ACTIVITY)) {
      const activity = byName.get(name);
      expect(activity, `${name} in ${registered}`).toBeDefined();
      expect(Object.values(activity!.bindings).some((b) => b.type === 'activityTrigger')).toBe(true);
    }

    const notifier = byName.get('approvalNotifier');
    expect(notifier, registered).toBeDefined();
    const trigger = Object.values(notifier!.bindings).find((b) => b.type === 'serviceBusTrigger');
    expect(trigger).toMatchObject({ direction: 'in', connection: 'ServiceBusConnection', queueName: '%QB_APPROVALS_QUEUE%' });
  });
});
