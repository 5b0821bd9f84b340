import { defineConfig } from 'vitest/config';

/** Phase two of `npm test`: scan the logs the suite produced. */
export default defineConfig({ test: { include: ['test/log-scan/*.scan.ts'], root: new URL('..', import.meta.url).pathname } });
