// @vitest-environment jsdom
/** The message log in a DOM: user data stays text, receipts sit under the visitor's last message, rows are reused. */
import { beforeEach, describe, expect, it } from "vitest";
import { setLanguage } from "../../i18n";
import type { Bubble } from "../state";
import { MessageLog } from "./messages";

const EVIL = `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>`;

const bubble = (key: string, extra: Partial<Bubble> = {}): Bubble => ({
  key, seq: Number(key.replace(/\D/g, "")) || 1, order: 1, mine: false, authorName: "Ann", kind: "text",
  body: `body ${key}`, state: "sent", created: "2026-11-27T12:00:00Z", ...extra,
});

function setup(): MessageLog {
  setLanguage("en", {});
  const scroller = document.createElement("div");
  document.body.replaceChildren(scroller);
  const log = new MessageLog(scroller, "en");
  scroller.append(log.root);
  return log;
}

describe("MessageLog", () => {
  beforeEach(() => {
    delete (window as { pwned?: number }).pwned;
  });

  it("shows message text, agent names and attachment names as text, never as markup", () => {
    const log = setup();
    log.render([
      bubble("m1", { authorName: EVIL, body: EVIL }),
      bubble("m2", { authorName: EVIL, body: "", kind: "attachment", attachment: { id: "at_1", name: EVIL, content_type: "application/pdf", size: 2048 } }),
      bubble("m3", { mine: true, authorName: "You", body: "", kind: "attachment", attachment: { id: "at_2", name: EVIL, content_type: "image/png", size: 10 } }),
    ], 0, "tok");
    const root = log.root;
    // The only image is the attachment's own preview; no script element was made.
    expect(root.querySelectorAll("script")).toHaveLength(0);
    expect([...root.querySelectorAll("img")].map((i) => i.getAttribute("src"))).toEqual(["/rt/visitor/attachments/at_2?token=tok"]);
    expect(root.querySelector(".bubble")?.textContent).toBe(EVIL);
    expect(root.querySelector(".author")?.textContent).toBe(EVIL);
    expect(root.querySelector(".file .fname")?.textContent).toBe(EVIL);
    expect(root.querySelector(".image img")?.getAttribute("alt")).toBe(EVIL);
    expect((window as { pwned?: number }).pwned).toBeUndefined();
  });

  it("opens attachments with the visitor's token, URL-encoded", () => {
    const log = setup();
    log.render([bubble("m1", { body: "", attachment: { id: "at/1", name: "r.pdf", content_type: "application/pdf", size: 1 } })], 0, "a&b");
    expect(log.root.querySelector("a.file")?.getAttribute("href")).toBe("/rt/visitor/attachments/at%2F1?token=a%26b");
  });

  it("names the author once per run of their messages", () => {
    const log = setup();
    log.render([bubble("m1"), bubble("m2"), bubble("m3", { authorName: "Bob" })], 0, null);
    expect([...log.root.querySelectorAll(".author")].map((a) => a.textContent)).toEqual(["Ann", "Bob"]);
    expect(log.root.querySelectorAll(".row.first")).toHaveLength(2);
  });

  it("puts the receipt under the visitor's last message only: Sent, then Seen", () => {
    const log = setup();
    const mine = (key: string, seq: number) => bubble(key, { mine: true, seq, authorName: "You" });
    log.render([mine("m1", 1), mine("m2", 2)], 1, null);
    const rows = log.root.querySelectorAll(".row");
    expect(rows[0].querySelector(".meta")?.textContent).not.toMatch(/Sent|Seen/);
    expect(rows[1].querySelector(".meta")?.textContent).toContain("Sent");
    log.render([mine("m1", 1), mine("m2", 2)], 2, null);
    expect(log.root.querySelectorAll(".row")[1].querySelector(".meta.seen")?.textContent).toContain("Seen");
  });

  it("shows pending and failed sends", () => {
    const log = setup();
    log.render([
      bubble("c1", { mine: true, seq: null, state: "pending" }),
      bubble("c2", { mine: true, seq: null, state: "failed", error: `Not sent: ${EVIL}` }),
    ], 0, null);
    const rows = log.root.querySelectorAll(".row");
    expect(rows[0].querySelector(".meta")?.textContent).toBe("Sending…");
    expect(rows[1].classList.contains("failed")).toBe(true);
    expect(rows[1].querySelector(".meta.error")?.textContent).toBe(`Not sent: ${EVIL}`);
    expect(log.root.querySelectorAll("script, img")).toHaveLength(0);
  });

  it("reuses unchanged rows, replaces changed ones, and drops those that are gone", () => {
    const log = setup();
    log.render([bubble("m1"), bubble("m2")], 0, null);
    const [first, second] = [...log.root.children];
    log.render([bubble("m1"), bubble("m2", { body: "edited" }), bubble("m3")], 0, null);
    expect(log.root.children[0]).toBe(first);
    expect(log.root.children[1]).not.toBe(second);
    expect(log.root.children[1].textContent).toContain("edited");
    log.render([bubble("m3")], 0, null);
    expect([...log.root.children].map((r) => r.textContent)).toEqual([expect.stringContaining("body m3")]);
  });

  it("shows events as a line of text", () => {
    const log = setup();
    log.render([bubble("m1", { kind: "event", body: EVIL })], 0, null);
    expect(log.root.querySelector(".row.event")?.textContent).toBe(EVIL);
    expect(log.root.querySelectorAll("img, script")).toHaveLength(0);
  });
});
