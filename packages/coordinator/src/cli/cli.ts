#!/usr/bin/env node
/** The `ferry` executable (bin/ferry.js imports this): runs the CLI with the process's arguments. */
import { exitQuietlyOnClosedPipe } from '@ferry/shared';
import { runCli } from './cli-program.js';

exitQuietlyOnClosedPipe();
process.exitCode = await runCli(process.argv.slice(2));
