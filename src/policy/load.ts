import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { PolicyConfig } from './schema.js';

export class PolicyFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyFileError';
  }
}

function formatIssues(source: string, issues: z.core.$ZodIssue[]): string {
  const lines = issues.slice(0, 10).map((i) => {
    const path = i.path.length ? i.path.map(String).join('.') : '(top level)';
    return `  ${path}: ${i.message}`;
  });
  return `Invalid policy ${source}:\n${lines.join('\n')}`;
}

/** Validate a policy object; the error names the path of every bad key. */
export function validatePolicy(raw: unknown, source = '(inline)'): PolicyConfig {
  const result = PolicyConfig.safeParse(raw);
  if (!result.success) throw new PolicyFileError(formatIssues(source, result.error.issues));
  return result.data;
}

/** Read and validate the YAML policy file at `path`. */
export function loadPolicyFile(path: string): PolicyConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new PolicyFileError(`Cannot read policy file ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 50 });
  } catch (e) {
    throw new PolicyFileError(`Policy file ${path} is not valid YAML: ${(e as Error).message}`);
  }
  return validatePolicy(raw, `file ${path}`);
}
