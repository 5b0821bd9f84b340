import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// `npm run dev -w viewer-app` serves the app on :5173 and forwards the API and the socket planes to a
// server on :3002 (`npm run demo`). The planes check Origin, so start that server with
// ALLOWED_ORIGINS=http://localhost:5173.
const SERVER = 'http://127.0.0.1:3002';

export default defineConfig({
  plugins: [svelte()],
  server: {
    port: 5173,
    strictPort: true,
    proxy: {
      '/api': SERVER,
      '/healthz': SERVER,
      '/ws': { target: SERVER, ws: true },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The server's CSP allows no inline script or style and fonts/images only from 'self' (images also
    // data:/blob:): keep every asset a file and the module-preload polyfill out of the page.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
});
