/** The first-run checklist's install-check rows: what each outcome says. */
import { describe, expect, it } from "vitest";
import { sightingText } from "./setup";

describe("install check rows", () => {
  const base = { origin: "https://www.newco.example", last_seen: "2026-12-05T09:00:00Z" };
  it("says where the widget is installed", () => {
    expect(sightingText({ ...base, status: "installed", allowed: true })).toBe("Installed on https://www.newco.example");
  });
  it("offers to allow a refused site", () => {
    expect(sightingText({ ...base, status: "refused", allowed: false })).toMatch(/^Refused on https:\/\/www\.newco\.example .*Allow it\?$/);
  });
  it("asks for a reload once a refused site is allowed", () => {
    expect(sightingText({ ...base, status: "refused", allowed: true })).toContain("reload that page");
  });
});
