// The UI is served by the gateway under its strict Content-Security-Policy: everything is a file
// under /assets/ with a content hash in its name; nothing inline, nothing from another host.
import { defineConfig } from "vite";

export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    target: "es2022",
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  server: { proxy: { "/api": "http://127.0.0.1:8000", "/auth": "http://127.0.0.1:8000", "/v1": "http://127.0.0.1:8000" } },
});
