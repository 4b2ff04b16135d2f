/** The widget's state without a DOM: what frames, acks and reads do to the conversations and bubbles. */
import { beforeEach, describe, expect, it } from "vitest";
import type { Message, PendingSend } from "../client";
import { setLanguage } from "../i18n";
import { bootstrapResponse, visitorConversation } from "../../test/widget_fixtures";
import { WidgetState } from "./state";

const conv = visitorConversation;
const boot = bootstrapResponse;

let n = 0;
const msg = (conversation: string, seq: number, extra: Partial<Message> = {}): Message => ({
  id: `ms_${++n}`, conversation, seq, client_id: null, author: { type: "agent", name: "Ann" }, kind: "text",
  body: `message ${seq}`, created: "2026-11-27T12:00:00Z", ...extra,
});

const pending = (client_id: string, conversation: string | null, body = "hello"): PendingSend => ({
  client_id, conversation, body, kind: "text", queued_at: 1_000,
});

describe("WidgetState", () => {
  beforeEach(() => setLanguage("en", {}));

  it("shows a returning visitor's latest conversation and follows every conversation it learns", () => {
    const followed: string[] = [];
    const s = new WidgetState((id) => followed.push(id));
    s.applyBootstrap(boot({ conversations: [
      conv("cv_old", { updated: "2026-11-20T00:00:00Z" }),
      conv("cv_new", { updated: "2026-11-26T00:00:00Z" }),
    ] }));
    expect(s.current).toBe("cv_new");
    expect(followed).toEqual(["cv_old", "cv_new"]);
    s.receive(msg("cv_third", 1));
    expect(followed).toEqual(["cv_old", "cv_new", "cv_third"]);
  });

  it("moves a new conversation's draft into the conversation its ack names, and shows it", () => {
    const s = new WidgetState();
    s.applyBootstrap(boot());
    s.addPending(pending("c1", null, "first"));
    expect(s.current).toBeNull();
    expect(s.hasDraft).toBe(true);
    expect(s.bubbles().map((b) => [b.body, b.state])).toEqual([["first", "pending"]]);
    s.acknowledge("c1", msg("cv_1", 1, { client_id: "c1", author: { type: "contact" }, body: "first" }));
    expect(s.current).toBe("cv_1");
    expect(s.hasDraft).toBe(false);
    expect(s.bubbles().map((b) => [b.key, b.state, b.seq])).toEqual([["c1", "sent", 1]]);
    expect(s.convs.get("cv_1")?.preview?.body).toBe("first");
  });

  it("a draft typed before a reload is what the visitor sees when the client connects", () => {
    const s = new WidgetState();
    s.applyBootstrap(boot({ conversations: [conv("cv_1")] }));
    expect(s.current).toBe("cv_1");
    s.connected([pending("c9", null)]);
    expect(s.current).toBeNull();
  });

  it("a message is news for the host page only past what bootstrap already knew", () => {
    const s = new WidgetState();
    s.applyBootstrap(boot({ conversations: [conv("cv_1", { last_seq: 3 })] }));
    expect(s.receive(msg("cv_1", 3))).toEqual({ news: false, agentInCurrent: true });
    const fourth = msg("cv_1", 4);
    expect(s.receive(fourth)).toEqual({ news: true, agentInCurrent: true });
    expect(s.receive(msg("cv_1", 5, { author: { type: "contact" } }))).toEqual({ news: false, agentInCurrent: false });
    // The same message again replaces its bubble: still two agent messages and one of the visitor's.
    s.receive({ ...fourth });
    expect(s.bubbles().map((b) => b.seq)).toEqual([3, 4, 5]);
  });

  it("an agent's reply reads the visitor's messages; read marks only move forward", () => {
    const s = new WidgetState();
    s.applyBootstrap(boot({ conversations: [conv("cv_1")] }));
    s.receive(msg("cv_1", 7));
    expect(s.convs.get("cv_1")?.agent_last_read_seq).toBe(7);
    expect(s.read("cv_1", "agent", 5)).toBe(true);
    expect(s.convs.get("cv_1")?.agent_last_read_seq).toBe(7);
    expect(s.read("cv_unknown", "agent", 9)).toBe(false);
    expect(s.read("cv_1", "agent", "9")).toBe(false);
  });

  it("counts unread agent messages and marks the shown conversation read once", () => {
    const s = new WidgetState();
    s.applyBootstrap(boot({ conversations: [conv("cv_1", { updated: "2026-11-27T00:00:00Z" }), conv("cv_2")] }));
    s.receive(msg("cv_1", 1));
    s.receive(msg("cv_2", 1));
    s.receive(msg("cv_2", 2));
    expect(s.unreadCount()).toBe(3);
    expect(s.unreadCount("cv_1")).toBe(2);
    expect(s.unreadCount(null, "cv_1")).toBe(1);
    expect(s.takeUnreadTop()).toBe(1);
    expect(s.takeUnreadTop()).toBeNull();
    expect(s.unreadCount()).toBe(2);
  });

  it("resolved: the composer gives way until the visitor replies; their ack reopens it", () => {
    const s = new WidgetState();
    s.applyBootstrap(boot({ conversations: [conv("cv_1")] }));
    s.receive(msg("cv_1", 2, { kind: "event", body: "", data: { event: "status_changed", status: "resolved" } }));
    expect(s.convs.get("cv_1")?.status).toBe("resolved");
    expect(s.resolvedShown).toBe(true);
    expect(s.bubbles().map((b) => b.body)).toEqual(["This conversation was marked as resolved."]);
    s.replyTo("cv_1");
    expect(s.resolvedShown).toBe(false);
    s.addPending(pending("c2", "cv_1", "one more thing"));
    s.acknowledge("c2", msg("cv_1", 3, { client_id: "c2", author: { type: "contact" } }));
    expect(s.convs.get("cv_1")?.status).toBe("open");
  });

  it("events other than assignment and resolution are not shown", () => {
    const s = new WidgetState();
    s.applyBootstrap(boot({ conversations: [conv("cv_1")] }));
    s.receive(msg("cv_1", 1, { kind: "event", data: { event: "labels_changed" } }));
    s.receive(msg("cv_1", 2, { kind: "event", data: { event: "assigned", assignee_name: "Ann" } }));
    expect(s.bubbles().map((b) => b.body)).toEqual(["Ann joined the conversation"]);
  });

  it("a refused send is marked failed with the server's reason", () => {
    const s = new WidgetState();
    s.applyBootstrap(boot({ conversations: [conv("cv_1")] }));
    s.addPending(pending("c3", "cv_1"));
    s.fail("c3", "too long");
    expect(s.bubbles().map((b) => [b.state, b.error])).toEqual([["failed", "Not sent: too long"]]);
  });

  it("after a welcome shows the latest conversation, unless the visitor chose a new one", () => {
    const s = new WidgetState();
    s.applyBootstrap(boot());
    s.chosenNew = true;
    s.welcome([conv("cv_1")]);
    expect(s.current).toBeNull();
    s.chosenNew = false;
    s.welcome([conv("cv_1")]);
    expect(s.current).toBe("cv_1");
  });

  it("covers a new conversation with the offline form when nobody is online, else the pre-chat form when asked", () => {
    const none = { offlineSent: false, prechatDone: false };
    const s = new WidgetState();
    expect(s.overlayKind(none)).toBeNull(); // before bootstrap
    s.applyBootstrap(boot({ team_online: false }));
    expect(s.overlayKind(none)).toBe("offline");
    expect(s.overlayKind({ ...none, offlineSent: true })).toBeNull();
    s.teamOnline = true;
    expect(s.overlayKind(none)).toBeNull();
    s.boot!.settings.prechat_form = true;
    expect(s.overlayKind(none)).toBe("prechat");
    expect(s.overlayKind({ ...none, prechatDone: true })).toBeNull();
    s.addPending(pending("c4", null));
    expect(s.overlayKind(none)).toBeNull(); // the visitor is already writing
  });

  it("lists conversations newest first with who answered and whether they are unread", () => {
    const s = new WidgetState();
    s.applyBootstrap(boot({ conversations: [
      conv("cv_1", { updated: "2026-11-27T11:00:00Z", assignee: { name: "Ann" } }),
      conv("cv_2", { updated: "2026-11-20T11:00:00Z", status: "resolved" }),
    ] }));
    s.receive(msg("cv_2", 1, { created: "2026-11-21T11:00:00Z" }));
    const items = s.listItems(Date.parse("2026-11-27T12:00:00Z"), "en");
    expect(items.map((i) => [i.id, i.who, i.resolved, i.unread, i.current])).toEqual([
      ["cv_1", "Ann", false, false, true],
      ["cv_2", "Acme", true, true, false],
    ]);
  });

  it("reset forgets the visitor", () => {
    const s = new WidgetState();
    s.applyBootstrap(boot({ conversations: [conv("cv_1")] }));
    s.receive(msg("cv_1", 1));
    s.reset();
    expect([s.current, s.convs.size, s.bubbles().length, s.unreadCount()]).toEqual([null, 0, 0, 0]);
  });
});
