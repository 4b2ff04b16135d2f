/** Settings → Canned responses: a shortcut typed with its slash is the same shortcut. */
import { describe, expect, it } from "vitest";
import { cleanShortcut } from "./settings_lists";

describe("canned shortcut", () => {
  it("drops the leading slash and spaces people type", () => {
    expect(cleanShortcut(" /refund ")).toBe("refund");
    expect(cleanShortcut("//hi")).toBe("hi");
    expect(cleanShortcut("thanks")).toBe("thanks");
  });
});
