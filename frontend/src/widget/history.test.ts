import { describe, expect, it } from "vitest";
import { hasUnread, lastActivity, previewText, relativeTime, sortConversations } from "./history";
import { strings } from "./i18n";

const en = strings("en");
const zh = strings("zh-Hans");
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
    expect(previewText({ author: "contact", body: "where is\n my  order?", seq: 1, at: "" }, en)).toBe("You: where is my order?");
    expect(previewText({ author: "agent", body: "On its way", seq: 2, at: "" }, en)).toBe("On its way");
    expect(previewText({ author: "agent", body: "", attachment: "label.pdf", seq: 3, at: "" }, en)).toBe("File: label.pdf");
    expect(previewText({ author: "contact", body: "", attachment: "a.png", seq: 3, at: "" }, zh)).toBe("您：文件：a.png");
    expect(previewText(null, en)).toBe("No messages yet");
  });

  it("says when, relative to now, in the visitor's language", () => {
    expect(relativeTime(ago(20_000), NOW, "en", en)).toBe("just now");
    expect(relativeTime(ago(5 * MIN), NOW, "en", en)).toBe("5 min. ago");
    expect(relativeTime(ago(3 * HOUR), NOW, "en", en)).toBe("3 hr. ago");
    expect(relativeTime(ago(DAY + HOUR), NOW, "en", en)).toBe("yesterday");
    expect(relativeTime(ago(4 * DAY), NOW, "en", en)).toBe("4 days ago");
    expect(relativeTime("2026-11-01T12:00:00Z", NOW, "en", en)).toBe("Nov 1");
    expect(relativeTime("2025-11-01T12:00:00Z", NOW, "en", en)).toBe("Nov 1, 2025");
    expect(relativeTime(ago(20_000), NOW, "zh-Hans", zh)).toBe("刚刚");
    expect(relativeTime(ago(4 * DAY), NOW, "zh-Hans", zh)).toBe("4天前");
    expect(relativeTime("", NOW, "en", en)).toBe("");
    expect(relativeTime("not a date", NOW, "en", en)).toBe("");
    // A clock slightly behind the server's: never "in 2 minutes".
    expect(relativeTime(new Date(NOW + 2 * MIN).toISOString(), NOW, "en", en)).toBe("just now");
  });

  it("marks an unread agent reply, not the visitor's own message", () => {
    const base = { id: "c", status: "open" };
    expect(hasUnread({ ...base, contact_last_read_seq: 2, preview: { author: "agent", body: "x", seq: 3, at: "" } })).toBe(true);
    expect(hasUnread({ ...base, contact_last_read_seq: 3, preview: { author: "agent", body: "x", seq: 3, at: "" } })).toBe(false);
    expect(hasUnread({ ...base, contact_last_read_seq: 0, preview: { author: "contact", body: "x", seq: 3, at: "" } })).toBe(false);
    expect(hasUnread({ ...base, preview: null })).toBe(false);
  });

  it("has every new string in both languages", () => {
    for (const key of ["conversations", "newConversation", "resolvedNote", "replyToReopen", "tooLargeServer"] as const) {
      expect(en[key]).toBeTruthy();
      expect(zh[key]).toBeTruthy();
      expect(zh[key]).not.toBe(en[key]);
    }
  });
});
