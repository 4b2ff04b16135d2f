/** The realtime client as a state machine: fake transports, fake timers, in-memory storage. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { backoffDelay, RealtimeClient, type Message, type RealtimeClientOptions } from "../src/client";
import { FakeNet, MemoryStorage, msg } from "./fakes";

let ids = 0;
function setup(extra: Partial<RealtimeClientOptions> = {}) {
  const net = new FakeNet();
  const storage = (extra.storage as MemoryStorage | undefined) ?? new MemoryStorage();
  const client = new RealtimeClient({
    role: "visitor",
    websocket: net.websocket,
    longpoll: net.longpoll,
    storage,
    token: () => "tok",
    random: () => 0,
    newId: () => `cid-${++ids}`,
    now: () => Date.now(),
    ...extra,
  });
  const messages: Message[] = [];
  const states: string[] = [];
  client.on("message", (m) => messages.push(m));
  client.on("state", (s) => states.push(s));
  return { net, client, storage, messages, states };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("connecting", () => {
  it("opens a WebSocket first and says hello with the token and resume points", () => {
    const { net, client, states } = setup();
    client.track("cv_a", 4);
    client.start();
    expect(net.last.kind).toBe("websocket");
    expect(net.last.hello).toEqual({ type: "hello", resume: { cv_a: 4 }, token: "tok" });
    net.last.accept();
    expect(client.state).toBe("open");
    expect(client.transport).toBe("websocket");
    expect(states).toEqual(["connecting", "open"]);
  });

  it("reconnects with exponential backoff and jitter, capped", () => {
    const { net, client } = setup({ wsFailuresBeforePolling: 100, backoff: { baseMs: 1000, maxMs: 8000 } });
    client.start();
    const expected = [500, 1000, 2000, 4000, 4000]; // random() = 0: half of min(max, base * 2^n)
    for (const delay of expected) {
      const before = net.all.length;
      net.last.fail();
      expect(client.state).toBe("reconnecting");
      vi.advanceTimersByTime(delay - 1);
      expect(net.all.length).toBe(before);
      vi.advanceTimersByTime(1);
      expect(net.all.length).toBe(before + 1);
    }
  });

  it("jitter spreads the delay between half and all of the ceiling", () => {
    const policy = { baseMs: 1000, maxMs: 30_000 };
    expect(backoffDelay(3, policy, () => 0)).toBe(4000);
    expect(backoffDelay(3, policy, () => 0.999)).toBeGreaterThan(7990);
    expect(backoffDelay(30, policy, () => 0.5)).toBe(22_500);
  });

  it("after a healthy session drops, the first retry is immediate and the backoff restarts", () => {
    const { net, client } = setup();
    client.start();
    net.last.accept();
    net.last.drop();
    vi.advanceTimersByTime(0);
    expect(net.all.length).toBe(2);
    expect(net.last.kind).toBe("websocket");
  });

  it("falls back to long-polling after two failed WebSocket opens", () => {
    const { net, client } = setup();
    client.start();
    net.last.fail();
    vi.advanceTimersByTime(250);
    expect(net.last.kind).toBe("websocket");
    net.last.fail();
    vi.advanceTimersByTime(0);
    expect(net.last.kind).toBe("longpoll");
    expect(net.last.hello?.type).toBe("hello");
    net.last.accept();
    expect(client.state).toBe("polling");
    expect(client.transport).toBe("longpoll");
  });

  it("probes for a WebSocket while polling and upgrades back, resuming where it was", () => {
    const { net, client } = setup({ probeIntervalMs: 30_000 });
    client.start();
    net.last.fail();
    vi.advanceTimersByTime(250);
    net.last.fail();
    vi.advanceTimersByTime(0);
    const poll = net.last;
    poll.accept();
    poll.deliver({ type: "message", message: msg("cv_a", 1) }, { type: "message", message: msg("cv_a", 2) });
    vi.advanceTimersByTime(30_000 * 0.75);
    const probe = net.last;
    expect(probe.kind).toBe("websocket");
    probe.fail(); // the probe fails: keep polling, try again later
    expect(client.state).toBe("polling");
    expect(poll.closed).toBe(false);
    vi.advanceTimersByTime(30_000 * 0.75);
    const probe2 = net.last;
    expect(probe2).not.toBe(probe);
    expect(probe2.hello?.resume).toEqual({ cv_a: 2 });
    probe2.accept();
    expect(poll.closed).toBe(true);
    expect(client.state).toBe("open");
    expect(client.transport).toBe("websocket");
    // Frames from the old poll are ignored once upgraded; the socket's are delivered.
    probe2.deliver({ type: "message", message: msg("cv_a", 3) });
    expect(client.lastSeq("cv_a")).toBe(3);
  });

  it("stops for good on 4401/4403 and reports it", () => {
    const { net, client } = setup();
    const errors: unknown[] = [];
    client.on("error", (f) => errors.push(f.code));
    client.start();
    net.last.accept();
    net.last.drop(4401);
    vi.advanceTimersByTime(60_000);
    expect(net.all.length).toBe(1);
    expect(client.state).toBe("closed");
    expect(errors).toEqual(["unauthenticated"]);
  });

  it("a silent socket is detected by the heartbeat and replaced", () => {
    const { net, client } = setup({ pingIntervalMs: 1000, pongTimeoutMs: 500 });
    client.start();
    const ws = net.last;
    ws.accept();
    vi.advanceTimersByTime(1000);
    expect(ws.sentOfType("ping").length).toBe(1);
    vi.advanceTimersByTime(500);
    expect(ws.closed).toBe(true);
    expect(client.state).toBe("reconnecting");
    vi.advanceTimersByTime(1); // a 0 ms timer set inside a timer callback runs 1 ms later with fake timers
    expect(net.all.length).toBe(2);
  });
});

describe("receiving", () => {
  it("resumes from the last seq per conversation after a reconnect", () => {
    const { net, client } = setup();
    client.track("cv_a", 0);
    client.start();
    net.last.accept();
    net.last.deliver(
      { type: "message", message: msg("cv_a", 1) },
      { type: "message", message: msg("cv_a", 2) },
      { type: "message", message: msg("cv_b", 7) },
    );
    net.last.drop();
    vi.advanceTimersByTime(0);
    expect(net.last.hello?.resume).toEqual({ cv_a: 2, cv_b: 7 });
  });

  it("drops duplicates (replay, ack and broadcast of the same seq)", () => {
    const { net, client, messages } = setup();
    client.start();
    net.last.accept();
    const m1 = msg("cv_a", 1);
    net.last.deliver({ type: "message", message: m1 }, { type: "message", message: m1 });
    net.last.drop();
    vi.advanceTimersByTime(0);
    net.last.accept();
    net.last.deliver({ type: "message", message: m1 }, { type: "message", message: msg("cv_a", 2) });
    expect(messages.map((m) => m.seq)).toEqual([1, 2]);
  });

  it("asks for a replay when it sees a gap, and the gap closes when the replay arrives", () => {
    const { net, client, messages } = setup({ gapDelayMs: 1000 });
    client.start();
    const ws = net.last;
    ws.accept();
    ws.deliver({ type: "message", message: msg("cv_a", 1) }, { type: "message", message: msg("cv_a", 4) });
    expect(ws.sentOfType("subscribe")).toEqual([]);
    vi.advanceTimersByTime(1000);
    expect(ws.sentOfType("subscribe")).toEqual([{ type: "subscribe", conversation: "cv_a", last_seq: 1 }]);
    ws.deliver({ type: "message", message: msg("cv_a", 2) }, { type: "message", message: msg("cv_a", 3) });
    expect(messages.map((m) => m.seq)).toEqual([1, 4, 2, 3]);
    // A reconnect now resumes after 4: nothing is missing.
    ws.drop();
    vi.advanceTimersByTime(0);
    expect(net.last.hello?.resume).toEqual({ cv_a: 4 });
  });

  it("a gap that is not filled before a drop is asked for again on resume", () => {
    const { net, client } = setup({ gapDelayMs: 1000 });
    client.start();
    net.last.accept();
    net.last.deliver({ type: "message", message: msg("cv_a", 1) }, { type: "message", message: msg("cv_a", 3) });
    net.last.drop();
    vi.advanceTimersByTime(0);
    expect(net.last.hello?.resume).toEqual({ cv_a: 1 });
  });

  it("seqs skipped by prev_seq (notes hidden from visitors) are not gaps", () => {
    const { net, client } = setup({ gapDelayMs: 1000 });
    client.start();
    const ws = net.last;
    ws.accept();
    ws.deliver({ type: "message", message: msg("cv_a", 1), prev_seq: 0 });
    ws.deliver({ type: "message", message: msg("cv_a", 4), prev_seq: 1 }); // 2 and 3 are notes
    vi.advanceTimersByTime(5000);
    expect(ws.sentOfType("subscribe")).toEqual([]);
    ws.drop();
    vi.advanceTimersByTime(0);
    expect(net.last.hello?.resume).toEqual({ cv_a: 4 });
  });

  it("holes the replay did not fill are closed by the pong after it", () => {
    const { net, client } = setup({ gapDelayMs: 1000 });
    client.start();
    const ws = net.last;
    ws.accept();
    ws.deliver({ type: "message", message: msg("cv_a", 1) }, { type: "message", message: msg("cv_a", 3) });
    vi.advanceTimersByTime(1000);
    expect(ws.sent.map((f) => f.type)).toEqual(["subscribe", "ping"]);
    ws.deliver({ type: "pong" }); // the replay had nothing for seq 2: it is invisible to us
    ws.drop();
    vi.advanceTimersByTime(0);
    expect(net.last.hello?.resume).toEqual({ cv_a: 3 });
  });

  it("a conversation update ahead of what we have triggers a replay", () => {
    const { net, client } = setup({ gapDelayMs: 100 });
    client.track("cv_a", 2);
    client.start();
    net.last.accept();
    net.last.deliver({ type: "conversation", conversation: { id: "cv_a", last_seq: 5, status: "open" } });
    vi.advanceTimersByTime(100);
    expect(net.last.sentOfType("subscribe")).toEqual([{ type: "subscribe", conversation: "cv_a", last_seq: 2 }]);
  });
});

describe("sending", () => {
  it("retries an unacknowledged send with the same client_id until acked", () => {
    const { net, client } = setup({ ackTimeoutMs: 5000, pingIntervalMs: 1e9 });
    client.start();
    net.last.accept();
    const item = client.send({ conversation: "cv_a", body: "hello" });
    expect(net.last.sentOfType("send")).toHaveLength(1);
    vi.advanceTimersByTime(5000);
    expect(net.last.sentOfType("send").map((f) => f.client_id)).toEqual([item.client_id, item.client_id]);
    net.last.drop();
    vi.advanceTimersByTime(0);
    net.last.accept();
    expect(net.last.sentOfType("send").map((f) => f.client_id)).toEqual([item.client_id]);
    const acks: string[] = [];
    client.on("ack", (id) => acks.push(id));
    net.last.deliver({ type: "ack", client_id: item.client_id, message: msg("cv_a", 1, { client_id: item.client_id }) });
    expect(acks).toEqual([item.client_id]);
    expect(client.pending()).toEqual([]);
    vi.advanceTimersByTime(60_000);
    expect(net.last.sentOfType("send")).toHaveLength(1);
  });

  it("messages typed offline are persisted and sent once, in order, after a reload", () => {
    const storage = new MemoryStorage();
    const first = setup({ storage });
    first.client.start();
    first.net.last.fail(); // offline: nothing opens
    for (const body of ["one", "two", "three"]) first.client.send({ conversation: "cv_a", body });
    expect(first.net.last.sent).toEqual([]);
    first.client.stop(); // the page is reloaded

    const second = setup({ storage });
    expect(second.client.pending().map((p) => p.body)).toEqual(["one", "two", "three"]);
    second.client.start();
    second.net.last.accept();
    const sends = second.net.last.sentOfType("send");
    expect(sends.map((f) => f.body)).toEqual(["one", "two", "three"]);
    expect(sends.map((f) => f.client_id)).toEqual(first.client.pending().map((p) => p.client_id));
    sends.forEach((f, i) =>
      second.net.last.deliver({ type: "ack", client_id: f.client_id, message: msg("cv_a", i + 1, { client_id: f.client_id }) }),
    );
    expect(second.client.pending()).toEqual([]);
    second.client.stop();

    const third = setup({ storage });
    third.client.start();
    third.net.last.accept();
    expect(third.net.last.sentOfType("send")).toEqual([]);
  });

  it("a refused send leaves the queue and is reported; a rate-limited or unstored one is retried later", () => {
    const { net, client } = setup({ ackTimeoutMs: 3000 });
    const dropped: (string | undefined)[] = [];
    client.on("error", (_f, item) => dropped.push(item?.body));
    client.start();
    net.last.accept();
    const bad = client.send({ conversation: "cv_a", body: "x".repeat(5) });
    net.last.deliver({ type: "error", code: "too_long", client_id: bad.client_id, detail: "" });
    expect(client.pending()).toEqual([]);
    expect(dropped).toEqual(["xxxxx"]);
    const slow = client.send({ conversation: "cv_a", body: "later" });
    net.last.deliver({ type: "error", code: "rate_limited", client_id: slow.client_id, detail: "" });
    expect(client.pending().map((p) => p.body)).toEqual(["later"]);
    expect(net.last.sentOfType("send").filter((f) => f.body === "later")).toHaveLength(1);
    vi.advanceTimersByTime(3000);
    expect(net.last.sentOfType("send").filter((f) => f.body === "later")).toHaveLength(2);
    // Not stored just now (a database error on the server): kept, and sent again after a pause.
    const unstored = client.send({ conversation: "cv_a", body: "again" });
    net.last.deliver({ type: "error", code: "unavailable", client_id: unstored.client_id, detail: "" });
    expect(client.pending().map((p) => p.body)).toContain("again");
    vi.advanceTimersByTime(3000);
    expect(net.last.sentOfType("send").filter((f) => f.body === "again")).toHaveLength(2);
  });

  it("only one first message starts a conversation; the others follow it there", () => {
    const { net, client } = setup();
    client.start();
    net.last.accept();
    const a = client.send({ conversation: null, body: "a" });
    client.send({ conversation: null, body: "b" });
    expect(net.last.sentOfType("send").map((f) => f.body)).toEqual(["a"]);
    net.last.deliver({ type: "ack", client_id: a.client_id, message: msg("cv_new", 1, { client_id: a.client_id }) });
    const sends = net.last.sentOfType("send");
    expect(sends.map((f) => [f.body, f.conversation])).toEqual([
      ["a", null],
      ["b", "cv_new"],
    ]);
  });

  it("long-polling sends one batch at a time so requests cannot overtake each other", () => {
    const { net, client } = setup();
    client.start();
    net.last.fail();
    vi.advanceTimersByTime(250);
    net.last.fail();
    vi.advanceTimersByTime(0);
    net.last.accept();
    const a = client.send({ conversation: "cv_a", body: "a" });
    client.send({ conversation: "cv_a", body: "b" });
    expect(net.last.sentOfType("send").map((f) => f.body)).toEqual(["a"]);
    net.last.deliver({ type: "ack", client_id: a.client_id, message: msg("cv_a", 1) });
    expect(net.last.sentOfType("send").map((f) => f.body)).toEqual(["a", "b"]);
  });

  it("read receipts given while offline are sent after reconnecting", () => {
    const { net, client } = setup();
    client.start();
    client.read("cv_a", 3);
    client.read("cv_a", 5);
    net.last.accept();
    expect(net.last.sentOfType("read")).toEqual([{ type: "read", conversation: "cv_a", seq: 5 }]);
  });

  it("an agent's resume names what it views, not every conversation opened in the session", () => {
    const { net, client } = setup({ role: "agent" });
    client.start();
    net.last.accept();
    for (let i = 0; i < 150; i++) {
      client.subscribe(`cv_${i}`, 0);
      net.last.deliver({ type: "message", message: msg(`cv_${i}`, 1) });
      if (i !== 149) client.unsubscribe(`cv_${i}`);
    }
    net.last.drop();
    vi.advanceTimersByTime(0);
    expect(net.last.hello?.resume).toEqual({ cv_149: 1 });
  });

  it("a conversation left with a send still queued stays in the resume until it is acked", () => {
    const { net, client } = setup({ role: "agent" });
    client.start();
    net.last.accept();
    client.subscribe("cv_a", 0);
    net.last.deliver({ type: "message", message: msg("cv_a", 1) });
    net.last.drop();
    client.send({ conversation: "cv_a", body: "sent while offline" });
    client.unsubscribe("cv_a");
    vi.advanceTimersByTime(60_000);
    expect(net.last.hello?.resume).toEqual({ cv_a: 1 });
  });

  it("a visitor with more conversations than the server resumes names the most recently active", () => {
    const { net, client } = setup();
    client.start();
    net.last.accept();
    for (let i = 0; i < 25; i++) {
      client.track(`cv_${i}`, 0);
      net.last.deliver({ type: "message", message: msg(`cv_${i}`, 1) });
    }
    net.last.deliver({ type: "message", message: msg("cv_0", 2) }); // the oldest becomes the newest
    net.last.drop();
    vi.advanceTimersByTime(0);
    const resume = net.last.hello?.resume as Record<string, number>;
    expect(Object.keys(resume)).toHaveLength(20);
    expect(resume.cv_0).toBe(2);
    expect(resume.cv_24).toBe(1);
    expect(resume.cv_1).toBeUndefined();
  });

  it("agents re-subscribe to the conversations they view and restore presence on reconnect", () => {
    const { net, client } = setup({ role: "agent" });
    client.start();
    net.last.accept();
    net.last.deliver({ type: "welcome", inbox_since: "123" });
    client.subscribe("cv_a", 0);
    client.setPresence("away");
    net.last.deliver({ type: "message", message: msg("cv_a", 1) });
    net.last.drop();
    vi.advanceTimersByTime(0);
    expect(net.last.hello).toEqual({ type: "hello", resume: { cv_a: 1 }, inbox_since: "123" });
    net.last.accept();
    expect(net.last.sent).toEqual([
      { type: "subscribe", conversation: "cv_a", last_seq: 1 },
      { type: "presence", status: "away" },
    ]);
  });
});

/** Two failed WebSocket opens: the client falls back to long-polling. */
function fallBackToLongPoll(net: FakeNet): void {
  net.last.fail();
  vi.advanceTimersByTime(250);
  net.last.fail();
  vi.advanceTimersByTime(0);
  expect(net.last.kind).toBe("longpoll");
}

describe("failure contract (docs/protocol.md, \"Failures and retries\")", () => {
  it("a socket refused with 1013 right after opening is retried with growing back-off, never at once", () => {
    const { net, client } = setup({ backoff: { baseMs: 1000, maxMs: 8000 } });
    client.start();
    for (const delay of [500, 1000, 2000, 4000]) {
      const before = net.all.length;
      net.last.accept(); // the handshake succeeds...
      net.last.drop(1013); // ...and the server says "try again later"
      vi.advanceTimersByTime(delay - 1);
      expect(net.all.length).toBe(before);
      vi.advanceTimersByTime(1);
      expect(net.all.length).toBe(before + 1);
      expect(net.last.kind).toBe("websocket"); // not a WebSocket failure: no fall-back to polling
    }
    // A welcome is a working session: the next drop is retried at once again.
    net.last.accept();
    net.last.deliver({ type: "welcome" });
    net.last.drop(1006);
    vi.advanceTimersByTime(0);
    expect(net.last.closed).toBe(false);
    expect(net.all.length).toBe(6);
  });

  it("1012 (a node restarting) reconnects promptly after a random pause, over WebSocket, then backs off", () => {
    const { net, client } = setup({ random: () => 0.5, restartJitterMs: 1000, backoff: { baseMs: 1000, maxMs: 8000 } });
    client.start();
    net.last.accept();
    net.last.deliver({ type: "welcome" });
    net.last.drop(1012);
    vi.advanceTimersByTime(499); // 0.5 of restartJitterMs: spread, not all at once
    expect(net.all.length).toBe(1);
    vi.advanceTimersByTime(1);
    expect(net.all.length).toBe(2);
    expect(net.last.kind).toBe("websocket");
    // Landed on another stopping node before its welcome: back-off as usual, still no long-poll.
    net.last.accept();
    net.last.drop(1012);
    vi.advanceTimersByTime(1499); // attempt 1: d = 1000 · 2¹, d/2 + 0.5 · d/2, less 1
    expect(net.all.length).toBe(2);
    vi.advanceTimersByTime(1);
    expect(net.all.length).toBe(3);
    expect(net.last.kind).toBe("websocket");
  });

  it("4429 is never retried at once either", () => {
    const { net, client } = setup();
    client.start();
    net.last.accept();
    net.last.deliver({ type: "welcome" });
    net.last.drop(4429); // flooding: back off even after a healthy session
    vi.advanceTimersByTime(0);
    expect(net.all.length).toBe(1);
    vi.advanceTimersByTime(250);
    expect(net.all.length).toBe(2);
  });

  it("waits at least the server's Retry-After", () => {
    const { net, client } = setup();
    client.start();
    fallBackToLongPoll(net);
    net.last.accept();
    net.last.closeWith({ wasOpen: true, code: 1013, retryAfterMs: 2000 });
    vi.advanceTimersByTime(1999);
    expect(net.all.length).toBe(3);
    vi.advanceTimersByTime(1);
    expect(net.all.length).toBe(4);
  });

  it("a send queued when the socket is refused is sent again, with its client_id, once accepted", () => {
    const { net, client } = setup();
    client.start();
    const id = client.send({ conversation: "cv_a", body: "hi" }).client_id;
    net.last.accept();
    expect(net.last.sentOfType("send").map((f) => f.client_id)).toEqual([id]);
    net.last.drop(1013);
    vi.advanceTimersByTime(250);
    net.last.accept();
    expect(net.last.sentOfType("send").map((f) => f.client_id)).toEqual([id]);
    expect(client.pending().map((p) => p.client_id)).toEqual([id]);
  });
});

describe("conversations frames (agents)", () => {
  it("are asked for by helloExtra; their rows arrive together, each as a conversation frame", () => {
    const { net, client } = setup({ role: "agent", token: undefined, helloExtra: () => ({ inbox_frame: "conversations" }) });
    const batches: unknown[][] = [];
    client.on("conversations", (rows) => batches.push(rows));
    client.track("cv_a", 2);
    client.start();
    expect(net.last.hello).toMatchObject({ type: "hello", inbox_frame: "conversations", inbox_since: null });
    net.last.accept();
    net.last.deliver({ type: "welcome", inbox_since: "100", inbox_resync: false });
    net.last.deliver({
      type: "conversations",
      conversations: [{ id: "cv_b", last_seq: 1 }, { id: "cv_a", last_seq: 4 }],
      inbox_since: "300",
    });
    expect(batches).toEqual([[
      { type: "conversation", conversation: { id: "cv_b", last_seq: 1 }, inbox_since: "300" },
      { type: "conversation", conversation: { id: "cv_a", last_seq: 4 }, inbox_since: "300" },
    ]]);
    // A followed conversation's row says it went further: the gap is asked for, as with one row.
    vi.advanceTimersByTime(5000);
    expect(net.last.sent).toContainEqual({ type: "subscribe", conversation: "cv_a", last_seq: 2 });
    // The watermark is the frame's: the next hello carries it.
    net.last.drop(1006);
    vi.advanceTimersByTime(0);
    expect(net.last.hello?.inbox_since).toBe("300");
  });
});

describe("inbox_resync (agents)", () => {
  function agent() {
    const ctx = setup({ role: "agent", token: undefined });
    const resyncs: number[] = [];
    ctx.client.on("resync", () => resyncs.push(1));
    return { ...ctx, resyncs };
  }

  it("an inbox_resync frame asks for a reload and resets the watermark, as a fresh client has none", () => {
    const { net, client, resyncs } = agent();
    client.start();
    expect(net.last.hello?.inbox_since).toBe(null);
    net.last.accept();
    net.last.deliver({ type: "welcome", inbox_since: "100", inbox_resync: false });
    net.last.deliver({ type: "conversation", conversation: { id: "cv_a", last_seq: 1 }, inbox_since: "200" });
    expect(resyncs).toEqual([]);
    net.last.deliver({ type: "inbox_resync" });
    expect(resyncs).toEqual([1]);
    // The reload is the baseline: the next hello carries no watermark...
    net.last.drop(1006);
    vi.advanceTimersByTime(0);
    expect(net.last.hello?.inbox_since).toBe(null);
    // ...and, the server replaying nothing without one, its welcome asks for a reload again.
    net.last.accept();
    net.last.deliver({ type: "welcome", inbox_since: "300", inbox_resync: false });
    expect(resyncs).toEqual([1, 1]);
  });

  it("a welcome saying inbox_resync asks for a reload; one after a watermark does not", () => {
    const { net, client, resyncs } = agent();
    client.start();
    net.last.accept();
    net.last.deliver({ type: "welcome", inbox_since: "100", inbox_resync: false });
    expect(resyncs).toEqual([]); // the first load is the app's own
    net.last.drop(1006);
    vi.advanceTimersByTime(0);
    expect(net.last.hello?.inbox_since).toBe("100");
    net.last.accept();
    net.last.deliver({ type: "welcome", inbox_since: "150", inbox_resync: false });
    expect(resyncs).toEqual([]);
    net.last.drop(1006);
    vi.advanceTimersByTime(0);
    net.last.accept();
    net.last.deliver({ type: "welcome", inbox_since: "400", inbox_resync: true });
    expect(resyncs).toEqual([1]);
  });

  it("over long-polling the frame comes in a poll's answer and is handled the same way", () => {
    const { net, client, resyncs } = agent();
    client.start();
    fallBackToLongPoll(net);
    net.last.accept();
    net.last.deliver({ type: "welcome", inbox_since: "100", inbox_resync: false });
    net.last.deliver(
      { type: "conversation", conversation: { id: "cv_b", last_seq: 3 }, inbox_since: "250" },
      { type: "inbox_resync" },
    );
    expect(resyncs).toEqual([1]);
  });
});
