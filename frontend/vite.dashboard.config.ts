// Builds the agent dashboard (SPA) and its service worker into static/dist/dashboard/.
// The app gets content-hashed names (cache busting); Django reads manifest.json to link them.
// The service worker keeps a fixed name: Django serves it at /app/sw.js (scope /app/) and
// prepends the precache list, so every new build changes the worker and triggers an update.
// The worker is built on its own (`--mode sw`, one IIFE file): a classic service worker cannot
// import the chunks the app shares (the i18n module), so it gets its own copy of them.
// Paths are relative to frontend/, where npm runs.
import { defineConfig } from "vite";

const worker = {
  publicDir: false as const,
  build: {
    outDir: "static/dist/dashboard",
    emptyOutDir: false,
    target: "es2020",
    sourcemap: true,
    rolldownOptions: {
      input: { sw: "src/sw/sw.ts" },
      output: { format: "iife" as const, entryFileNames: "sw.js" },
    },
  },
};

export default defineConfig(({ mode }) => mode === "sw" ? worker : {
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
      },
      output: {
        entryFileNames: "assets/[name]-[hash].js",
        chunkFileNames: "assets/[name]-[hash].js",
        assetFileNames: "assets/[name]-[hash][extname]",
      },
    },
  },
});
