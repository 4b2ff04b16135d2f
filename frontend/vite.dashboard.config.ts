// Builds the agent dashboard (SPA) and its service worker into static/dist/dashboard/.
// The app gets content-hashed names (cache busting); Django reads manifest.json to link them.
// The service worker keeps a fixed name: Django serves it at /app/sw.js (scope /app/) and
// prepends the precache list, so every new build changes the worker and triggers an update.
// Paths are relative to frontend/, where npm runs.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/static/dist/dashboard/",
  publicDir: false,
  build: {
    outDir: "static/dist/dashboard",
    emptyOutDir: true,
    manifest: "manifest.json",
    target: "es2020",
    sourcemap: true,
    rolldownOptions: {
      input: {
        dashboard: "src/dashboard/main.ts",
        sw: "src/sw/sw.ts",
      },
      output: {
        entryFileNames: (chunk) => (chunk.name === "sw" ? "sw.js" : "assets/[name]-[hash].js"),
        chunkFileNames: "assets/[name]-[hash].js",
        assetFileNames: "assets/[name]-[hash][extname]",
      },
    },
  },
});
