/** The long-poll transport's HTTP statuses, as docs/protocol.md "Failures and retries" maps them. */
import { describe, expect, it } from "vitest";
import { longPollTransport, type CloseInfo } from "../src/client";
import { retryAfterMs } from "../src/client/transport";

function answering(status: number, headers: Record<string, string> = {}): typeof fetch {
  return (async () =>
    new Response(JSON.stringify({ error: { code: "x", detail: "x" } }), { status, headers })) as typeof fetch;
}

async function closeOf(fetchImpl: typeof fetch): Promise<CloseInfo> {
  return new Promise((resolve) => {
    const transport = longPollTransport({ baseUrl: "http://h/rt/visitor", fetchImpl })({
      onOpen: () => undefined,
      onFrames: () => undefined,
      onClose: resolve,
    });
    transport.open({ type: "hello" });
  });
}

describe("long-poll failures", () => {
  it("503 is 1013 (try again later) with the server's Retry-After", async () => {
    expect(await closeOf(answering(503, { "Retry-After": "2" }))).toMatchObject({ code: 1013, retryAfterMs: 2000 });
  });

  it("401 and 403 are the fatal 4401 and 4403; 429 is 4429; a 500 is a plain retryable failure", async () => {
    expect((await closeOf(answering(401))).code).toBe(4401);
    expect((await closeOf(answering(403))).code).toBe(4403);
    expect((await closeOf(answering(429))).code).toBe(4429);
    const failed = await closeOf(answering(500));
    expect(failed.code).toBeUndefined();
    expect(failed.retryAfterMs).toBeUndefined();
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    expect(retryAfterMs("3")).toBe(3000);
    expect(retryAfterMs("0.5")).toBe(500);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs("soon")).toBeUndefined();
  });
});
