/** The engine of a configured connection (`connections.<name>.engine` in the policy). */
import type { AnyEngine, EngineName } from './types.js';
import { postgresEngine } from './postgres.js';
import { BrokerError } from '../errors.js';

export type { AnyEngine, Engine, EngineName, EngineAnalysis, EngineCatalog, EngineErrorInfo, EnginePools } from './types.js';

const ENGINES: Readonly<Partial<Record<EngineName, AnyEngine>>> = { postgres: postgresEngine };

export function engineFor(name: EngineName): AnyEngine {
  const engine = ENGINES[name];
  if (!engine) throw new BrokerError('internal_error', `The ${name} engine is not available in this build; use a postgres connection.`);
  return engine;
}
