// Unit tests (Vitest) in Node; a test file that starts with `// @vitest-environment jsdom` gets a DOM (jsdom).
import { defineConfig } from "vitest/config";

// Vitest's reporter uses Map.groupBy (Node 21+); Node 20 is what we support, so add it here.
const MapWithGroupBy = Map as unknown as { groupBy?: unknown };
if (typeof MapWithGroupBy.groupBy !== "function") {
  MapWithGroupBy.groupBy = <K, V>(items: Iterable<V>, key: (item: V, i: number) => K): Map<K, V[]> => {
    const out = new Map<K, V[]>();
    let i = 0;
    for (const item of items) {
      const k = key(item, i++);
      const list = out.get(k);
      if (list) list.push(item);
      else out.set(k, [item]);
    }
    return out;
  };
}

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    environment: "node",
    testTimeout: 10_000,
  },
});
