/** The typed event emitter of the realtime client and the dashboard's store: one broken listener never stops the others. */
export class Emitter<Events extends Record<string, unknown[]>> {
  private handlers: { [K in keyof Events]?: Set<(...args: Events[K]) => void> } = {};

  on<K extends keyof Events>(event: K, cb: (...args: Events[K]) => void): () => void {
    (this.handlers[event] ??= new Set()).add(cb);
    return () => this.handlers[event]?.delete(cb);
  }

  emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    for (const cb of [...(this.handlers[event] ?? [])]) {
      try {
        cb(...args);
      } catch (err) {
        // One broken listener must not stop delivery to the others (or break the state machine).
        console.error(err);
      }
    }
  }
}
