#!/usr/bin/env node
// The `edgevisor` CLI. Runs the TypeScript sources through tsx so the bin works right after `npm ci`.
import { register } from 'tsx/esm/api';
register();
await import('../supervisor/src/cli/main.ts');
