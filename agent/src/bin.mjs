#!/usr/bin/env node
// `guru-agent` (the package's bin): the repository runs TypeScript directly, so load the entry point
// through tsx's loader, resolved next to this file rather than from the caller's directory.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
