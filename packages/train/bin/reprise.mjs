#!/usr/bin/env node
// The workspace ships TypeScript sources: load them through tsx, then run the CLI.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
