/** Fake transports and storage for driving the realtime client's state machine in tests. */
import type { ClientFrame, ServerFrame } from "../src/client";
import type { CloseInfo, Transport, TransportHandlers } from "../src/client/transport";

export class FakeTransport implements Transport {
  hello: ClientFrame | null = null;
  sent: ClientFrame[] = [];
  closed = false;

  constructor(
    readonly kind: "websocket" | "longpoll",
    private readonly h: TransportHandlers,
  ) {}

  open(hello: ClientFrame): void {
    this.hello = hello;
  }
  send(frames: ClientFrame[]): void {
    if (this.closed) throw new Error("send on a closed transport");
    this.sent.push(...frames);
  }
  close(): void {
    this.closed = true;
  }
  // --- what the test does to it
  accept(): void {
    this.h.onOpen();
  }
  fail(code?: number): void {
    this.h.onClose({ wasOpen: false, code });
  }
  drop(code?: number): void {
    this.h.onClose({ wasOpen: true, code });
  }
  closeWith(info: CloseInfo): void {
    this.h.onClose(info);
  }
  deliver(...frames: ServerFrame[]): void {
    this.h.onFrames(frames);
  }
  sentOfType(type: string): ClientFrame[] {
    return this.sent.filter((f) => f.type === type);
  }
}

export class FakeNet {
  all: FakeTransport[] = [];
  websocket = (h: TransportHandlers) => this.make("websocket", h);
  longpoll = (h: TransportHandlers) => this.make("longpoll", h);

  private make(kind: "websocket" | "longpoll", h: TransportHandlers): FakeTransport {
    const t = new FakeTransport(kind, h);
    this.all.push(t);
    return t;
  }
  get last(): FakeTransport {
    const t = this.all[this.all.length - 1];
    if (!t) throw new Error("no transport was created");
    return t;
  }
  count(kind: "websocket" | "longpoll"): number {
    return this.all.filter((t) => t.kind === kind).length;
  }
}

export class MemoryStorage {
  data = new Map<string, string>();
  getItem(k: string): string | null {
    return this.data.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.data.set(k, v);
  }
  removeItem(k: string): void {
    this.data.delete(k);
  }
}

let n = 0;
export function msg(conversation: string, seq: number, extra: Record<string, unknown> = {}) {
  return {
    id: `msg_${conversation}_${seq}_${n++}`,
    conversation,
    seq,
    client_id: null,
    author: { type: "agent" },
    kind: "text",
    body: `m${seq}`,
    created: new Date(0).toISOString(),
    ...extra,
  };
}
