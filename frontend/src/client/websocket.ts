/** WebSocket transport: one JSON frame per WebSocket message. */
import type { Transport, TransportFactory, TransportHandlers } from "./transport";
import type { ClientFrame, ServerFrame } from "./types";

export interface WebSocketTransportOptions {
  url: string;
  /** Defaults to the global WebSocket; looked up at open time so a page can remove it. */
  WebSocketImpl?: typeof WebSocket;
}

export function webSocketTransport(opts: WebSocketTransportOptions): TransportFactory {
  return (handlers: TransportHandlers): Transport => {
    let ws: WebSocket | null = null;
    let opened = false;
    let done = false;
    const finish = (code?: number, reason?: string) => {
      if (done) return;
      done = true;
      handlers.onClose({ wasOpen: opened, code, reason });
    };
    return {
      open(hello: ClientFrame) {
        const Impl = opts.WebSocketImpl ?? (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
        if (typeof Impl !== "function") {
          // No WebSocket in this browser (or a proxy/extension removed it): fail fast.
          setTimeout(() => finish(undefined, "unavailable"), 0);
          return;
        }
        try {
          ws = new Impl(opts.url);
        } catch {
          setTimeout(() => finish(undefined, "construct failed"), 0);
          return;
        }
        ws.onopen = () => {
          if (done || !ws) return;
          opened = true;
          ws.send(JSON.stringify(hello));
          handlers.onOpen();
        };
        ws.onmessage = (ev: MessageEvent) => {
          if (done) return;
          let frame: ServerFrame;
          try {
            frame = JSON.parse(String(ev.data));
          } catch {
            return; // A garbled frame is ignored; resume-by-seq repairs anything it carried.
          }
          if (frame && typeof frame.type === "string") handlers.onFrames([frame]);
        };
        ws.onerror = () => {
          /* onclose follows and carries the code */
        };
        ws.onclose = (ev: CloseEvent) => finish(ev.code, ev.reason);
      },
      send(frames: ClientFrame[]) {
        if (!ws || done || ws.readyState !== 1) return;
        for (const f of frames) ws.send(JSON.stringify(f));
      },
      close() {
        done = true;
        if (ws) {
          ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
          try {
            ws.close(1000);
          } catch {
            /* already closing */
          }
        }
      },
    };
  };
}
