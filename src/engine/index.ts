/** The engine of a configured connection (`connections.<name>.engine` in the policy). */
import type { AnyEngine, EngineName } from './types.js';
import { postgresEngine } from './postgres.js';
import { mysqlEngine } from './mysql/index.js';

export type { AnyEngine, Engine, EngineName, EngineAnalysis, EngineCatalog, EngineErrorInfo, EnginePools } from './types.js';

const ENGINES: Readonly<Record<EngineName, AnyEngine>> = { postgres: postgresEngine, mysql: mysqlEngine };

export function engineFor(name: EngineName): AnyEngine {
  return ENGINES[name];
}
