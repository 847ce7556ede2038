#!/usr/bin/env node
// The emulator is TypeScript run through tsx: it is a development tool, and this keeps it build-free.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
