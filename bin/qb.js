#!/usr/bin/env node
// `qb` launcher. In a checkout (sources and tsx present) it runs the TypeScript source, so `npx qb`
// works right after `npm ci` and never runs a stale build; in an installed package it runs dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = new URL('../src/cli/main.ts', import.meta.url);
let tsx;
if (existsSync(fileURLToPath(source))) {
  tsx = await import('tsx/esm/api').catch(() => undefined);
}
if (tsx) {
  tsx.register();
  await import(source.href);
} else {
  await import(new URL('../dist/src/cli/main.js', import.meta.url).href);
}
