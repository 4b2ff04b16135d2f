/** Email conversations in the dashboard: the composer bar, the message's email line, the channel event. */
import { describe, expect, it } from "vitest";
import type { Contact, Message } from "./api";
import { canEmail, emailLine, eventText, replyChannelText } from "./format";

const contact: Contact = { id: "ct_1", name: "Maria", email: "" };

describe("email conversations", () => {
  it("say where a reply goes only when it goes by email", () => {
    expect(replyChannelText({ channel: "email", email_address: "maria@bakery.example" })).toBe("Replies go by email to maria@bakery.example");
    expect(replyChannelText({ channel: "chat", email_address: "maria@bakery.example" })).toBeNull();
    expect(replyChannelText({})).toBeNull();
  });
  it("offer email only with an address to write to", () => {
    expect(canEmail({ contact, email_address: "" })).toBe(false);
    expect(canEmail({ contact: { ...contact, email: "m@x.example" }, email_address: "" })).toBe(true);
    expect(canEmail({ contact, email_address: "m@x.example" })).toBe(true);
  });
  it("show the sender and subject of a mail", () => {
    expect(emailLine({ subject: "Where is my order?", from: "maria@bakery.example", from_name: "Maria Santos" }))
      .toBe("Maria Santos <maria@bakery.example> · Where is my order?");
    expect(emailLine({ subject: "", from: "maria@bakery.example", from_name: "" })).toBe("maria@bakery.example");
    expect(emailLine(undefined)).toBeNull();
  });
  it("describe a channel change in the history", () => {
    const event = (channel: string, name?: string): Message => ({
      id: "msg_1", conversation: "cv_1", seq: 3, client_id: null, author: { type: "system", name }, kind: "event",
      body: "", created: "2026-12-05T10:00:00Z", data: { event: "channel_changed", channel },
    });
    expect(eventText(event("email", "Alice"))).toBe("Alice switched replies to email");
    expect(eventText(event("chat"))).toBe("Switched replies to the chat");
  });
});
