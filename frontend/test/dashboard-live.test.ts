/** The dashboard's live connection: an `inbox_resync` from the server reloads the inbox. */
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
});
