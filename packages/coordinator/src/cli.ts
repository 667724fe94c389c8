#!/usr/bin/env node
/** The `ferry` executable (bin/ferry.js imports this): runs the CLI with the process's arguments. */
import { runCli } from './cli-program.js';

process.exitCode = await runCli(process.argv.slice(2));
