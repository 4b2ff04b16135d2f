/** Every user-visible string of the TypeScript apps goes through the catalog (docs/i18n.md; rules in i18n_scan.ts). */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { APPS, scan, sources, SRC } from "./i18n_scan";

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("TypeScript user-visible strings", () => {
  const results = Object.entries(APPS).flatMap(([folder, app]) =>
    sources(join(SRC, folder)).map((file) => ({ app, ...scan(file) })));

  it("all go through t()/tn()", () => {
    const findings = results.flatMap((r) => r.findings).map((f) => `${f.file}:${f.line} ${JSON.stringify(f.text)} (${f.why})`);
    expect(findings).toEqual([]);
  });

  for (const app of new Set(Object.values(APPS))) {
    it(`${app}: every string has a Chinese translation with the same placeholders, and nothing unused`, () => {
      const catalog = JSON.parse(readFileSync(join(SRC, "i18n", "zh-Hans", `${app}.json`), "utf8")) as Record<string, string>;
      const used = new Set([
        ...results.filter((r) => r.app === app).flatMap((r) => r.msgids),
        ...results.flatMap((r) => r.borrowed).filter(([from]) => from === app).map(([, msgid]) => msgid),
      ]);
      const missing = [...used].filter((m) => !catalog[m]?.trim());
      const unused = Object.keys(catalog).filter((m) => !used.has(m));
      const mismatched = Object.entries(catalog)
        .filter(([m, zh]) => placeholders(m).join() !== placeholders(zh).join()).map(([m]) => m);
      expect({ missing, unused, mismatched }).toEqual({ missing: [], unused: [], mismatched: [] });
    });
  }
});
