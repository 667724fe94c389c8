#!/usr/bin/env node
import { runAgentCli } from '../dist/cli.js';

process.exitCode = await runAgentCli(process.argv.slice(2));
