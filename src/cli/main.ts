#!/usr/bin/env node
/** `qb`: the Query Broker command line. The work happens in run.ts; this file only binds the process. */
import { runCli } from './run.js';
import { processIo } from './io.js';

process.exitCode = await runCli(process.argv.slice(2), processIo());
