import { describe, it, expect } from 'vitest';
import { captureFunctionRegistrations } from '../../helpers/functions-host.js';

describe('Azure Functions entry', () => {
  it('registers the catch-all HTTP function, anonymous at the Functions level, with the durable client', async () => {
    const captured = captureFunctionRegistrations();
    await import('../../../functions/index.js');
    const http = captured.find((f) => f.name === 'broker');
    expect(http, `registered: ${captured.map((f) => f.name).join(', ')}`).toBeDefined();
    const trigger = Object.values(http!.bindings).find((b) => b.type === 'httpTrigger');
    expect(trigger).toMatchObject({ direction: 'in', route: '{*path}', authLevel: 'anonymous' });
    expect(trigger?.methods).toEqual(expect.arrayContaining(['GET', 'POST']));
    expect(Object.values(http!.bindings).some((b) => b.type === 'durableClient' && b.direction === 'in')).toBe(true);
    expect(Object.values(http!.bindings).some((b) => b.type === 'http' && b.direction === 'out')).toBe(true);
  });
});
