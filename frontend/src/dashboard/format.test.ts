/** The dashboard's text helpers: links in messages, chip and attribute labels, snooze times. */
import { describe, expect, it } from "vitest";
import { attributeLabel, linkParts, shortDateTime, statusLabel } from "./format";

describe("links in message text", () => {
  it("turns http(s) addresses into links and leaves the rest as text", () => {
    expect(linkParts("see https://shop.example/a?b=1 now")).toEqual([
      "see ", { href: "https://shop.example/a?b=1", text: "https://shop.example/a?b=1" }, " now"]);
    expect(linkParts("plain words")).toEqual(["plain words"]);
    expect(linkParts("")).toEqual([]);
  });
  it("keeps trailing punctuation and unbalanced brackets out of the link", () => {
    expect(linkParts("Go to http://x.example/path.")).toEqual(["Go to ", { href: "http://x.example/path", text: "http://x.example/path" }, "."]);
    expect(linkParts("(at https://x.example/docs)")).toEqual(["(at ", { href: "https://x.example/docs", text: "https://x.example/docs" }, ")"]);
    expect(linkParts("https://en.example/wiki/Foo_(bar)")).toEqual([{ href: "https://en.example/wiki/Foo_(bar)", text: "https://en.example/wiki/Foo_(bar)" }]);
  });
  it("never links other schemes or markup", () => {
    for (const text of ["javascript:alert(1)", "data:text/html,<b>x</b>", "<a href=\"https://x.example\">x</a>", "ftp://x.example/f"]) {
      const links = linkParts(text).filter((p) => typeof p !== "string") as { href: string }[];
      for (const link of links) {
        expect(link.href).toMatch(/^https?:\/\/[^\s<>"'`]+$/);
      }
    }
    expect(linkParts("javascript:alert(1)")).toEqual(["javascript:alert(1)"]);
    // The quote ends the address: an attribute can't ride along.
    expect(linkParts("<a href=\"https://x.example\">")).toEqual(["<a href=\"", { href: "https://x.example", text: "https://x.example" }, "\">"]);
  });
});

describe("labels", () => {
  it("capitalises statuses and attribute keys", () => {
    expect(statusLabel("snoozed")).toBe("Snoozed");
    expect(statusLabel("")).toBe("");
    expect(attributeLabel("signed_up")).toBe("Signed up");
    expect(attributeLabel("planName")).toBe("Plan name");
    expect(attributeLabel("__")).toBe("__");
  });
});

describe("snooze times", () => {
  const now = new Date(2026, 10, 27, 10, 0); // Fri 27 Nov 2026, 10:00 local
  it("shows only the time today, a weekday this week, and a date further off", () => {
    const time = (d: Date) => d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    const later = new Date(2026, 10, 27, 14, 0);
    expect(shortDateTime(later, now)).toBe(time(later));
    const monday = new Date(2026, 10, 30, 9, 0);
    expect(shortDateTime(monday, now)).toBe(`${monday.toLocaleDateString(undefined, { weekday: "short" })} ${time(monday)}`);
    const january = new Date(2027, 0, 4, 9, 0);
    expect(shortDateTime(january, now)).toBe(`${january.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ${time(january)}`);
  });
  it("is empty for missing or broken values", () => {
    expect(shortDateTime(null, now)).toBe("");
    expect(shortDateTime("not a date", now)).toBe("");
  });
});
