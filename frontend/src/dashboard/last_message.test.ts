/** The inbox preview: built from the conversation row's last message, and from a live message the same way. */
import { describe, expect, it } from "vitest";
import { lastMessageOf, type LastMessage, type Message } from "./api";
import { lastMessageText } from "./format";

const msg = (over: Partial<Message>): Message => ({
  id: "msg_1", conversation: "cv_1", seq: 3, client_id: null, author: { type: "contact" }, kind: "text",
  body: "", created: "2026-11-27T03:00:00+00:00", ...over,
});

describe("inbox preview", () => {
  it("folds whitespace and keeps the first 140 characters, as the server does", () => {
    const last = lastMessageOf(msg({ body: "  where is\n\n my   order? " + "x".repeat(200) }))!;
    expect(last.preview).toBe(("where is my order? " + "x".repeat(200)).slice(0, 140));
    expect(last).toMatchObject({ id: "msg_1", seq: 3, kind: "text", attachment: null, created: "2026-11-27T03:00:00+00:00" });
  });
  it("events are never the last message", () => {
    expect(lastMessageOf(msg({ kind: "event", body: "assigned" }))).toBeNull();
  });
  it("keeps only the attachment's name and type", () => {
    const last = lastMessageOf(msg({ kind: "attachment", attachment: { id: "at_1", name: "label.pdf", content_type: "application/pdf", size: 9, url: "/x" } }));
    expect(last?.attachment).toEqual({ name: "label.pdf", content_type: "application/pdf" });
  });
  it("says what the row shows: text, a note, a file", () => {
    const base: LastMessage = { id: "m", seq: 1, kind: "text", author: { type: "contact" }, preview: "hi", attachment: null, created: "" };
    expect(lastMessageText(base)).toBe("hi");
    expect(lastMessageText({ ...base, kind: "note", author: { type: "agent", id: "ag_1", name: "Ben" } })).toBe("Note: hi");
    expect(lastMessageText({ ...base, kind: "attachment", preview: "", attachment: { name: "a.png", content_type: "image/png" } })).toBe("Attachment: a.png");
    expect(lastMessageText(null)).toBe("");
  });
});
