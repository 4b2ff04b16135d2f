import { describe, expect, it, vi } from "vitest";
import { Emitter } from "./emitter";

type Events = { count: [n: number]; done: [] };

describe("Emitter", () => {
  it("calls each listener of an event with its arguments until it unsubscribes", () => {
    const e = new Emitter<Events>();
    const seen: number[] = [];
    const off = e.on("count", (n) => seen.push(n));
    const done = vi.fn();
    e.on("done", done);
    e.emit("count", 1);
    off();
    e.emit("count", 2);
    expect(seen).toEqual([1]);
    expect(done).not.toHaveBeenCalled();
  });

  it("keeps delivering when one listener throws", () => {
    const e = new Emitter<Events>();
    const err = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const after = vi.fn();
    e.on("done", () => {
      throw new Error("broken listener");
    });
    e.on("done", after);
    e.emit("done");
    expect(after).toHaveBeenCalledTimes(1);
    expect(err).toHaveBeenCalledTimes(1);
    err.mockRestore();
  });

  it("lets a listener unsubscribe while the event is delivered", () => {
    const e = new Emitter<Events>();
    const calls: string[] = [];
    const off = e.on("done", () => {
      calls.push("a");
      off();
    });
    e.on("done", () => calls.push("b"));
    e.emit("done");
    e.emit("done");
    expect(calls).toEqual(["a", "b", "b"]);
  });
});
