import { describe, expect, it } from "vitest";
import { acceptFor, ALLOWED_TYPES, checkFile, DEFAULT_MAX_BYTES, humanSize, limitsFrom } from "./files";

describe("attachment limits from the server", () => {
  it("uses the bootstrap's max_bytes and types", () => {
    const limits = limitsFrom({ max_bytes: 2048, types: { "image/png": [".png"], "text/plain": [".txt", ".MD"] } });
    expect(limits.maxBytes).toBe(2048);
    expect(limits.types).toEqual({ "image/png": [".png"], "text/plain": [".txt", ".md"] });
    expect(checkFile({ name: "a.png", type: "image/png", size: 2048 }, limits)).toEqual({ ok: true, image: true });
    expect(checkFile({ name: "a.png", type: "image/png", size: 2049 }, limits)).toEqual({ ok: false, reason: "too_large" });
    // A type the server does not list is refused even though the built-in list has it.
    expect(checkFile({ name: "r.pdf", type: "application/pdf", size: 10 }, limits)).toEqual({ ok: false, reason: "bad_type" });
    expect(acceptFor(limits.types)).toBe("image/png,text/plain,.png,.txt,.md");
  });

  it("keeps the defaults when the settings are missing or malformed", () => {
    for (const raw of [undefined, null, "x", { max_bytes: -1 }, { max_bytes: "9" }, { max_bytes: Infinity }, { types: [] }, { types: { "bad type": [".x"] } }]) {
      const limits = limitsFrom(raw);
      expect(limits.maxBytes).toBe(DEFAULT_MAX_BYTES);
      expect(limits.types).toBe(ALLOWED_TYPES);
    }
    // Hostile keys do not reach the prototype, and junk extensions are dropped.
    const limits = limitsFrom({ max_bytes: 5000.7, types: { __proto__: [".png"], "image/gif": [".gif", "..", 3, ".g f"] } });
    expect(limits.maxBytes).toBe(5000);
    expect(limits.types).toEqual({ "image/gif": [".gif"] });
    expect(checkFile({ name: "x.constructor", type: "constructor", size: 1 }, limits)).toEqual({ ok: false, reason: "bad_type" });
  });

  it("names limits without overstating them and sizes without understating them", () => {
    expect(humanSize(2048, Math.floor)).toBe("2 KB");
    expect(humanSize(1536, Math.floor)).toBe("1.5 KB");
    expect(humanSize(2047, Math.floor)).toBe("1.9 KB");
    expect(humanSize(2049)).toBe("2.1 KB");
    expect(humanSize(10 * 1024 * 1024, Math.floor)).toBe("10 MB");
    expect(humanSize(10 * 1024 * 1024 + 1)).toBe("11 MB");
    expect(humanSize(5 * 1024 * 1024 + 1)).toBe("5.1 MB");
  });
});
