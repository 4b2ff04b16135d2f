// Builds the visitor widget: the iframe app (static/dist/widget/) and, with `--mode loader`, the
// host-page loader (static/dist/loader/loader.js, one self-contained IIFE that defines only
// window.Switchboard). Names are fixed: Django links them with {% static %}, and the manifest
// storage adds content hashes in production; the loader itself is served at the stable /widget.js.
import { resolve } from "node:path";
import { defineConfig } from "vite";

export default defineConfig(({ mode }) =>
  mode === "loader"
    ? {
        publicDir: false,
        build: {
          outDir: resolve(import.meta.dirname, "static/dist/loader"),
          emptyOutDir: true,
          target: "es2019",
          minify: true,
          rolldownOptions: {
            input: resolve(import.meta.dirname, "src/loader/loader.ts"),
            output: { format: "iife", entryFileNames: "loader.js" },
          },
        },
      }
    : {
        base: "/static/dist/widget/",
        publicDir: false,
        build: {
          outDir: resolve(import.meta.dirname, "static/dist/widget"),
          emptyOutDir: true,
          target: "es2020",
          sourcemap: true,
          cssCodeSplit: false,
          rolldownOptions: {
            input: { widget: resolve(import.meta.dirname, "src/widget/main.ts") },
            output: {
              entryFileNames: "[name].js",
              chunkFileNames: "[name].js",
              assetFileNames: "[name][extname]",
            },
          },
        },
      },
);
