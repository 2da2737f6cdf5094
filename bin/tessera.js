#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx, so there is no build step between a checkout and `tessera`.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
