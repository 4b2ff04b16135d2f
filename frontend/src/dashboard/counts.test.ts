/** The inbox tabs' numbers: what a count looks like, and the store keeping the latest answer. */
import { describe, expect, it } from "vitest";
import { countText, Store } from "./store";

describe("tab counts", () => {
  it("shows zero and small numbers as they are", () => {
    expect(countText(0)).toBe("0");
    expect(countText(7)).toBe("7");
    expect(countText(999)).toBe("999");
  });

  it("caps a huge backlog so the tab keeps its width", () => {
    expect(countText(1000)).toBe("999+");
    expect(countText(123456)).toBe("999+");
  });

  it("shows nothing when the number is unknown or nonsense", () => {
    expect(countText(undefined)).toBe("");
    expect(countText(null)).toBe("");
    expect(countText(-1)).toBe("");
    expect(countText(Number.NaN)).toBe("");
  });

  it("store.setCounts replaces the counts and tells listeners", () => {
    const store = new Store();
    const seen: unknown[] = [];
    store.on("counts", () => seen.push(store.counts));
    store.setCounts({ mine: 3, unassigned: 5, all: 12 });
    store.setCounts(null);
    expect(seen).toEqual([{ mine: 3, unassigned: 5, all: 12 }, null]);
  });
});
