/** The dashboard's live connection: it asks for `conversations` frames and applies their rows at
 * once; an `inbox_resync` from the server reloads the inbox. */
import { afterEach, describe, expect, it, vi } from "vitest";

class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.();
  }
  frame(frame: Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("dashboard live connection", () => {
  it("reloads the inbox on inbox_resync, and says no watermark in the next hello", async () => {
    vi.stubGlobal("WebSocket", FakeSocket);
    vi.stubGlobal("location", { origin: "http://testserver" });
    vi.stubGlobal("document", { title: "", hidden: false, cookie: "", querySelector: () => null });
    const { live } = await import("../src/dashboard/live");
    const { store } = await import("../src/dashboard/store");
    const reloads: number[] = [];
    store.on("inbox-resync", () => reloads.push(1));
    live.start(() => undefined);
    const ws = FakeSocket.all[FakeSocket.all.length - 1];
    expect(ws.url).toMatch(/\/ws\/agent\/$/);
    ws.open();
    ws.frame({ type: "welcome", agents: [], inbox_since: "100", inbox_resync: false });
    ws.frame({ type: "conversation", conversation: { id: "cv_a", last_seq: 0 }, inbox_since: "200" });
    expect(reloads).toEqual([]);
    ws.frame({ type: "inbox_resync" });
    expect(reloads).toEqual([1]);
    ws.onclose?.({ code: 1006, reason: "" });
    await vi.waitFor(() => expect(FakeSocket.all.length).toBeGreaterThan(1));
    const again = FakeSocket.all[FakeSocket.all.length - 1];
    again.open();
    expect(JSON.parse(again.sent[0])).toMatchObject({ type: "hello", inbox_since: null });
  });

  it("asks for conversations frames and applies each one's rows together, the latest watermark kept", async () => {
    vi.stubGlobal("WebSocket", FakeSocket);
    vi.stubGlobal("location", { origin: "http://testserver" });
    vi.stubGlobal("document", { title: "", hidden: false, cookie: "", querySelector: () => null });
    // New conversations alert: silently here (sound off, no desktop notifications).
    vi.stubGlobal("localStorage", { getItem: () => "off", setItem: () => undefined, removeItem: () => undefined });
    vi.stubGlobal("window", { addEventListener: () => undefined, removeEventListener: () => undefined });
    const { live } = await import("../src/dashboard/live");
    const { store } = await import("../src/dashboard/store");
    live.start(() => undefined);
    const ws = FakeSocket.all[FakeSocket.all.length - 1];
    ws.open();
    expect(JSON.parse(ws.sent[0])).toMatchObject({ type: "hello", inbox_frame: "conversations" });
    ws.frame({ type: "welcome", agents: [], inbox_since: "100", inbox_resync: false });
    ws.frame({ type: "conversation", conversation: { id: "cv_x", status: "open", last_seq: 1 }, inbox_since: "150" });
    let redraws = 0;
    const frames: number[] = [];
    const off = store.on("conversations", () => redraws++);
    const offFrames = store.on("inbox-frame", () => frames.push(1));
    ws.frame({
      type: "conversations",
      conversations: [
        { id: "cv_x", status: "resolved", last_seq: 3 },
        { id: "cv_y", status: "open", last_seq: 1, assignee: { id: "ag_other", name: "Other" } },
      ],
      inbox_since: "400",
    });
    off();
    offFrames();
    expect(redraws).toBe(1); // one redraw for the whole frame
    expect(frames).toEqual([1]);
    expect(store.conversations.get("cv_x")).toMatchObject({ status: "resolved", last_seq: 3 });
    expect(store.conversations.get("cv_y")).toMatchObject({ status: "open", last_seq: 1 });
    ws.onclose?.({ code: 1006, reason: "" });
    await vi.waitFor(() => expect(FakeSocket.all[FakeSocket.all.length - 1]).not.toBe(ws));
    const again = FakeSocket.all[FakeSocket.all.length - 1];
    again.open();
    expect(JSON.parse(again.sent[0])).toMatchObject({ type: "hello", inbox_since: "400", inbox_frame: "conversations" });
  });
});
