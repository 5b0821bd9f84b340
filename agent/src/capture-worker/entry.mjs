// Worker entry: the repository runs TypeScript directly, and a worker thread does not inherit the
// main thread's loader hooks (`--import tsx` or tsx's API in bin.mjs), so register tsx here.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
