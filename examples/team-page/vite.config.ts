import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  // Everything bundled into dist/ (no CDN, no web fonts): the page works offline.
  build: { outDir: 'dist', emptyOutDir: true },
});
