/** Long-poll transport: `POST /rt/<role>/poll` waits for frames, `POST /rt/<role>/send` sends them. */
import { closeCodeOfStatus, retryAfterMs, type Transport, type TransportFactory, type TransportHandlers } from "./transport";
import type { ClientFrame, ServerFrame } from "./types";

export interface LongPollTransportOptions {
  /** e.g. "https://host/rt/visitor" — `/send` and `/poll` are appended. */
  baseUrl: string;
  /** Visitor token, put in every request body (visitors only). */
  token?: () => string | null;
  /** Extra headers per request (the agent's CSRF token). */
  headers?: () => Record<string, string>;
  fetchImpl?: typeof fetch;
  /** Upper bound for one poll; the server answers within LONGPOLL_TIMEOUT_SECONDS (25 s). */
  pollTimeoutMs?: number;
  sendTimeoutMs?: number;
}

/** Frames that change what the poll's cursor follows: the server takes them only on `poll`. */
const POLL_FRAMES = new Set(["subscribe", "unsubscribe"]);

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterMs?: number,
  ) {
    super(`HTTP ${status}`);
  }
}

export function longPollTransport(opts: LongPollTransportOptions): TransportFactory {
  return (handlers: TransportHandlers): Transport => {
    const doFetch = opts.fetchImpl ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
    let cursor: string | null = null;
    let opened = false;
    let done = false;
    const controllers = new Set<AbortController>();
    /** subscribe/unsubscribe frames waiting for the next poll, and the poll in flight (to cut short). */
    let forPoll: ClientFrame[] = [];
    let pollCtrl: AbortController | null = null;
    let cutShort = false;

    const finish = (code?: number, reason?: string, retryAfter?: number) => {
      if (done) return;
      done = true;
      for (const c of controllers) c.abort();
      handlers.onClose({ wasOpen: opened, code, reason, retryAfterMs: retryAfter });
    };

    async function post(
      path: string, body: Record<string, unknown>, timeoutMs: number, onStart?: (c: AbortController) => void,
    ): Promise<Record<string, unknown>> {
      const ctrl = new AbortController();
      controllers.add(ctrl);
      onStart?.(ctrl);
      const timer = setTimeout(() => ctrl.abort(), timeoutMs);
      try {
        const token = opts.token?.();
        const res = await doFetch(`${opts.baseUrl}/${path}`, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", ...(opts.headers?.() ?? {}) },
          body: JSON.stringify(token ? { token, ...body } : body),
          signal: ctrl.signal,
        });
        if (!res.ok) throw new HttpError(res.status, retryAfterMs(res.headers?.get?.("Retry-After") ?? null));
        return (await res.json()) as Record<string, unknown>;
      } finally {
        clearTimeout(timer);
        controllers.delete(ctrl);
      }
    }

    const closeFor = (err: unknown) => {
      if (err instanceof HttpError) {
        // docs/protocol.md, "Failures and retries": the core decides from the code what to do.
        finish(closeCodeOfStatus(err.status), err.message, err.retryAfterMs);
      } else {
        finish(undefined, "network");
      }
    };

    async function loop(hello: ClientFrame) {
      let first = true;
      while (!done) {
        let data: Record<string, unknown>;
        const carried = forPoll;
        forPoll = [];
        const body: Record<string, unknown> = first ? { cursor, hello } : { cursor };
        if (carried.length) body.frames = carried;
        try {
          data = await post("poll", body, opts.pollTimeoutMs ?? 40_000, (c) => (pollCtrl = c));
        } catch (err) {
          if (cutShort && !done && !first) {
            // Cut short to carry a subscribe: the lost answer's cursor is replayed from the old one.
            cutShort = false;
            forPoll = [...carried, ...forPoll];
            continue;
          }
          closeFor(err);
          return;
        } finally {
          pollCtrl = null;
        }
        if (done) return;
        if (typeof data.cursor === "string") cursor = data.cursor;
        if (first) {
          first = false;
          opened = true;
          handlers.onOpen();
        }
        const frames = Array.isArray(data.frames) ? (data.frames as ServerFrame[]) : [];
        if (frames.length && !done) handlers.onFrames(frames);
      }
    }

    return {
      open(hello: ClientFrame) {
        void loop(hello);
      },
      send(all: ClientFrame[]) {
        if (done || !all.length) return;
        const follow = all.filter((f) => POLL_FRAMES.has(f.type));
        if (follow.length) {
          forPoll.push(...follow);
          // Don't wait out a 25 s poll: end it now and poll again with the frames.
          if (pollCtrl && opened) {
            cutShort = true;
            pollCtrl.abort();
          }
        }
        const frames = all.filter((f) => !POLL_FRAMES.has(f.type));
        if (!frames.length) return;
        post("send", { frames }, opts.sendTimeoutMs ?? 15_000).then(
          (data) => {
            if (done) return;
            const out = Array.isArray(data.frames) ? (data.frames as ServerFrame[]) : [];
            if (out.length) handlers.onFrames(out);
          },
          // A failed send means the path is broken: reconnect; the core resends what is unacked.
          (err) => closeFor(err),
        );
      },
      close() {
        done = true;
        for (const c of controllers) c.abort();
      },
    };
  };
}
