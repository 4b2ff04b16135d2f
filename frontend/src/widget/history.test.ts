import { describe, expect, it } from "vitest";
import { hasUnread, lastActivity, previewText, relativeTime, sortConversations } from "./history";
import { setLanguage } from "../i18n";
import zhHans from "../i18n/zh-Hans/widget.json";

const en = () => setLanguage("en", {});
const zh = () => setLanguage("zh-Hans", { "zh-Hans": zhHans });
const NOW = Date.parse("2026-11-27T12:00:00Z");
const ago = (ms: number) => new Date(NOW - ms).toISOString();
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe("conversation list", () => {
  it("orders by the last visible message, then the last change, newest first", () => {
    const convs = [
      { id: "cv_old", status: "resolved", updated: ago(2 * HOUR), preview: { author: "agent", body: "bye", seq: 4, at: ago(6 * DAY) } },
      { id: "cv_new", status: "open", updated: ago(5 * MIN), preview: { author: "contact", body: "hi", seq: 1, at: ago(5 * MIN) } },
      { id: "cv_empty", status: "open", updated: ago(HOUR), preview: null },
    ];
    expect(sortConversations(convs).map((c) => c.id)).toEqual(["cv_new", "cv_empty", "cv_old"]);
    // The resolve (an update two hours ago) does not make last week's conversation look recent.
    expect(lastActivity(convs[0])).toBe(ago(6 * DAY));
    expect(lastActivity({ id: "x", status: "open", last_message_at: ago(DAY), updated: ago(MIN) })).toBe(ago(DAY));
  });

  it("keeps a stable order for equal times and puts undated ones last", () => {
    const t = ago(HOUR);
    const convs = [{ id: "b", status: "open", updated: t }, { id: "z", status: "open" }, { id: "a", status: "open", updated: t }];
    expect(sortConversations(convs).map((c) => c.id)).toEqual(["a", "b", "z"]);
  });

  it("previews say who wrote, name files, and fold whitespace", () => {
    en();
    expect(previewText({ author: "contact", body: "where is\n my  order?", seq: 1, at: "" })).toBe("You: where is my order?");
    expect(previewText({ author: "agent", body: "On its way", seq: 2, at: "" })).toBe("On its way");
    expect(previewText({ author: "agent", body: "", attachment: "label.pdf", seq: 3, at: "" })).toBe("File: label.pdf");
    zh();
    expect(previewText({ author: "contact", body: "", attachment: "a.png", seq: 3, at: "" })).toBe("您：文件：a.png");
    en();
    expect(previewText(null)).toBe("No messages yet");
  });

  it("says when, relative to now, in the visitor's language", () => {
    en();
    expect(relativeTime(ago(20_000), NOW, "en")).toBe("just now");
    expect(relativeTime(ago(5 * MIN), NOW, "en")).toBe("5 min. ago");
    expect(relativeTime(ago(3 * HOUR), NOW, "en")).toBe("3 hr. ago");
    expect(relativeTime(ago(DAY + HOUR), NOW, "en")).toBe("yesterday");
    expect(relativeTime(ago(4 * DAY), NOW, "en")).toBe("4 days ago");
    expect(relativeTime("2026-11-01T12:00:00Z", NOW, "en")).toBe("Nov 1");
    expect(relativeTime("2025-11-01T12:00:00Z", NOW, "en")).toBe("Nov 1, 2025");
    zh();
    expect(relativeTime(ago(20_000), NOW, "zh-Hans")).toBe("刚刚");
    expect(relativeTime(ago(4 * DAY), NOW, "zh-Hans")).toBe("4天前");
    en();
    expect(relativeTime("", NOW, "en")).toBe("");
    expect(relativeTime("not a date", NOW, "en")).toBe("");
    // A clock slightly behind the server's: never "in 2 minutes".
    expect(relativeTime(new Date(NOW + 2 * MIN).toISOString(), NOW, "en")).toBe("just now");
  });

  it("marks an unread agent reply, not the visitor's own message", () => {
    const base = { id: "c", status: "open" };
    expect(hasUnread({ ...base, contact_last_read_seq: 2, preview: { author: "agent", body: "x", seq: 3, at: "" } })).toBe(true);
    expect(hasUnread({ ...base, contact_last_read_seq: 3, preview: { author: "agent", body: "x", seq: 3, at: "" } })).toBe(false);
    expect(hasUnread({ ...base, contact_last_read_seq: 0, preview: { author: "contact", body: "x", seq: 3, at: "" } })).toBe(false);
    expect(hasUnread({ ...base, preview: null })).toBe(false);
  });

  it("has the list's strings in Chinese", () => {
    for (const msgid of ["Your conversations", "Start a new conversation", "This conversation has been resolved.", "Reply to reopen it"]) {
      expect(zhHans[msgid as keyof typeof zhHans]).toBeTruthy();
    }
  });
});
