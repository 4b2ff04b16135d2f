/** The outgoing queue: sends not yet acknowledged, persisted so they survive a reload. */
import type { PendingSend } from "./types";

/** The part of `Storage` the queue needs (localStorage, or a fake in tests). */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export class Outbox {
  private items: PendingSend[] = [];

  constructor(
    private readonly store: KeyValueStore | null,
    private readonly key: string,
  ) {
    this.items = this.read();
  }

  /** All pending sends, oldest first. */
  list(): PendingSend[] {
    return this.items.slice();
  }

  get size(): number {
    return this.items.length;
  }

  has(clientId: string): boolean {
    return this.items.some((i) => i.client_id === clientId);
  }

  add(item: PendingSend): void {
    this.sync();
    if (!this.has(item.client_id)) this.items.push(item);
    this.write();
  }

  remove(clientId: string): PendingSend | undefined {
    this.sync();
    const found = this.items.find((i) => i.client_id === clientId);
    this.items = this.items.filter((i) => i.client_id !== clientId);
    this.write();
    return found;
  }

  /** The server started a conversation for a first message: later first messages belong to it. */
  adoptConversation(conversation: string): void {
    this.sync();
    let changed = false;
    for (const i of this.items) {
      if (i.conversation === null) {
        i.conversation = conversation;
        changed = true;
      }
    }
    if (changed) this.write();
  }

  /** Another tab (or the previous page) may have changed the stored queue: merge, keeping order. */
  private sync(): void {
    const stored = this.read();
    if (!this.store) return;
    const storedIds = new Set(stored.map((i) => i.client_id));
    // Items acked elsewhere disappear from storage; keep only what is still stored, plus ours
    // that were never written (store failures are tolerated: memory stays the fallback).
    const mine = this.items.filter((i) => storedIds.has(i.client_id));
    const known = new Set(mine.map((i) => i.client_id));
    const merged = [...mine, ...stored.filter((i) => !known.has(i.client_id))];
    merged.sort((a, b) => a.queued_at - b.queued_at);
    this.items = merged;
  }

  private read(): PendingSend[] {
    if (!this.store) return this.items;
    try {
      const raw = this.store.getItem(this.key);
      const parsed = raw ? JSON.parse(raw) : [];
      return Array.isArray(parsed) ? parsed.filter(isPendingSend) : [];
    } catch {
      return [];
    }
  }

  private write(): void {
    if (!this.store) return;
    try {
      if (this.items.length) this.store.setItem(this.key, JSON.stringify(this.items));
      else this.store.removeItem(this.key);
    } catch {
      /* storage full or blocked (private mode): the queue still lives in memory */
    }
  }
}

function isPendingSend(v: unknown): v is PendingSend {
  const o = v as PendingSend;
  return !!o && typeof o.client_id === "string" && typeof o.body === "string" && typeof o.queued_at === "number";
}
