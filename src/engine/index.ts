/** The engine of a configured connection (`connections.<name>.engine` in the policy). */
import type { Engine, EngineName } from './types.js';
import type { Analysis } from '../sql/types.js';
import type { PoolHandle } from '../db/pools.js';
import { postgresEngine } from './postgres.js';
import { BrokerError } from '../errors.js';

export type { Engine, EngineName, EngineAnalysis, EngineErrorInfo } from './types.js';

const ENGINES: Readonly<Partial<Record<EngineName, Engine<Analysis, PoolHandle>>>> = { postgres: postgresEngine };

export function engineFor(name: EngineName): Engine<Analysis, PoolHandle> {
  const engine = ENGINES[name];
  if (!engine) throw new BrokerError('internal_error', `The ${name} engine is not available in this build; use a postgres connection.`);
  return engine;
}
