#!/usr/bin/env node
import { exitQuietlyOnClosedPipe } from '@ferry/shared';
import { runAgentCli } from '../dist/runtime/cli.js';

exitQuietlyOnClosedPipe();
process.exitCode = await runAgentCli(process.argv.slice(2));
