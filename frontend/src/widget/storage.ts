/** The widget's memory on our origin's localStorage, per widget key; blocked storage just forgets. */

export class WidgetStorage {
  private readonly store: Storage | null;

  constructor(private readonly widgetKey: string) {
    this.store = safeStorage();
  }

  /** The full storage key of `name` (the realtime client's outbox lives under one too). */
  key(name: string): string {
    return `sb:${this.widgetKey}:${name}`;
  }

  get(name: string): string | null {
    try {
      return this.store?.getItem(this.key(name)) || null;
    } catch {
      return null;
    }
  }

  set(name: string, value: string): void {
    try {
      this.store?.setItem(this.key(name), value);
    } catch {
      /* storage blocked: the visitor simply starts fresh next time */
    }
  }
}

function safeStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}
