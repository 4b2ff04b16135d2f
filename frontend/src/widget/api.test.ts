import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, bootstrap } from "./api";

const BODY = { widget_key: "wk_1", visitor_token: "tok", identity: null, context: {} };

function respond(res: Partial<Response>): void {
  vi.stubGlobal("fetch", vi.fn(async () => res as Response));
}

afterEach(() => vi.unstubAllGlobals());

describe("bootstrap", () => {
  it("returns a complete answer", async () => {
    const boot = { visitor_token: "tok2", contact: { id: "ct_1" }, conversations: [], settings: {} };
    respond({ ok: true, status: 200, json: async () => boot });
    await expect(bootstrap(BODY)).resolves.toMatchObject({ visitor_token: "tok2" });
  });

  it("fails when a 200's body cannot be read (a reload aborted it), so no token `undefined` is stored", async () => {
    respond({ ok: true, status: 200, json: async () => { throw new DOMException("aborted", "AbortError"); } });
    const err = await bootstrap(BODY).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe("network");
  });

  it("fails on a 200 without a token or conversations", async () => {
    for (const body of [{}, { visitor_token: "", conversations: [] }, { visitor_token: "t" }, null]) {
      respond({ ok: true, status: 200, json: async () => body });
      await expect(bootstrap(BODY)).rejects.toBeInstanceOf(ApiError);
    }
  });

  it("keeps the server's error code and detail", async () => {
    respond({ ok: false, status: 403, statusText: "Forbidden",
              json: async () => ({ error: { code: "origin_not_allowed", detail: "nope" } }) });
    await expect(bootstrap(BODY)).rejects.toMatchObject({ status: 403, code: "origin_not_allowed", message: "nope" });
  });
});
