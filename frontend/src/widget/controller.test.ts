// @vitest-environment jsdom
/** The controller in a DOM with a fake realtime client and fake HTTP calls: frames reach the panel and the host page. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Message, PendingSend } from "../client";
import { setLanguage } from "../i18n";
import { bootstrapResponse, visitorConversation } from "../../test/widget_fixtures";
import type { Bootstrap } from "./api";
import { WidgetController } from "./controller";

type Handler = (...args: unknown[]) => void;

class FakeClient {
  handlers = new Map<string, Handler[]>();
  sent: PendingSend[] = [];
  reads: [string, number][] = [];
  on(event: string, cb: Handler): () => void {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), cb]);
    return () => undefined;
  }
  emit(event: string, ...args: unknown[]): void {
    for (const cb of this.handlers.get(event) ?? []) cb(...args);
  }
  start(): void {}
  stop(): void {}
  track(): void {}
  typing(): void {}
  pending(): PendingSend[] {
    return [];
  }
  read(conversation: string, seq: number): void {
    this.reads.push([conversation, seq]);
  }
  send(item: { conversation: string | null; body: string }): PendingSend {
    const p = { client_id: `c${this.sent.length + 1}`, kind: "text", queued_at: Date.now(), ...item };
    this.sent.push(p);
    return p;
  }
}

const api = vi.hoisted(() => ({ bootstrap: vi.fn(), saveProfile: vi.fn(), rate: vi.fn(), upload: vi.fn() }));
const fake = vi.hoisted(() => ({ client: null as unknown }));
vi.mock("./api", async (original) => ({ ...(await original<typeof import("./api")>()), ...api }));
vi.mock("../client", () => ({ createClient: () => fake.client }));

const EVIL = `<img src=x onerror="window.pwned=1">`;

const boot = bootstrapResponse;

const agentMessage = (seq: number, body: string, name = "Ann Lee"): Message => ({
  id: `ms_${seq}`, conversation: "cv_1", seq, client_id: null, author: { type: "agent", name }, kind: "text", body,
  created: "2026-11-27T12:00:00Z",
});

async function started(b: Bootstrap): Promise<{ app: WidgetController; client: FakeClient; posted: Record<string, unknown>[]; mount: HTMLElement }> {
  setLanguage("en", {});
  localStorage.clear();
  const client = new FakeClient();
  fake.client = client;
  api.bootstrap.mockResolvedValue(b);
  api.saveProfile.mockResolvedValue({ contact: { name: "", email: "" } });
  const mount = document.createElement("div");
  document.body.replaceChildren(mount);
  const posted: Record<string, unknown>[] = [];
  const app = new WidgetController({ key: "wk_1", lang: "en", bridge: { post: (m) => posted.push(m) }, mount });
  await app.start({}, null, {});
  return { app, client, posted, mount };
}

describe("WidgetController", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("bootstraps: tells the host page it is ready, shows the team and greeting, keeps the token", async () => {
    const { posted, mount } = await started(boot());
    expect(posted[0]).toMatchObject({ type: "ready", settings: { color: "#4f46e5", position: "right" } });
    expect(mount.querySelector(".title")?.textContent).toBe("Acme");
    expect(mount.querySelector(".greeting .bubble")?.textContent).toBe("Hi there");
    expect(localStorage.getItem("sb:wk_1:token")).toBe("vt_1");
  });

  it("an agent's message is shown as text, counted unread while closed, and passed to the host page", async () => {
    const { app, client, posted, mount } = await started(boot({ conversations: [visitorConversation("cv_1")] }));
    client.emit("message", agentMessage(1, EVIL, EVIL));
    expect(mount.querySelector(".log .bubble")?.textContent).toBe(EVIL);
    expect(mount.querySelector(".log .author")?.textContent).toBe(EVIL);
    expect(mount.querySelectorAll(".log img")).toHaveLength(0);
    expect((window as { pwned?: number }).pwned).toBeUndefined();
    expect(posted).toContainEqual({ type: "message", message: { body: EVIL, author: EVIL } });
    expect(posted.filter((m) => m.type === "unread").pop()).toEqual({ type: "unread", count: 1 });
    app.setOpen(true);
    expect(client.reads).toEqual([["cv_1", 1]]);
    expect(posted.filter((m) => m.type === "unread").pop()).toEqual({ type: "unread", count: 0 });
  });

  it("Send puts the message in the log at once, pending, and the ack marks it sent", async () => {
    const { client, mount } = await started(boot());
    const textarea = mount.querySelector("textarea")!;
    textarea.value = "  hello  ";
    textarea.dispatchEvent(new Event("input"));
    mount.querySelector("form.compose-row")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await vi.advanceTimersByTimeAsync(0);
    expect(client.sent).toEqual([expect.objectContaining({ conversation: null, body: "hello" })]);
    expect(textarea.value).toBe("");
    expect(mount.querySelector(".row.mine .meta")?.textContent).toBe("Sending…");
    client.emit("ack", "c1", { ...agentMessage(1, "hello"), client_id: "c1", author: { type: "contact" } });
    expect(mount.querySelector(".row.mine .meta")?.textContent).toContain("Sent");
  });

  it("nobody online: the offline form sends the message, thanks the visitor, then shows the conversation", async () => {
    const { client, mount } = await started(boot({ team_online: false }));
    const overlay = mount.querySelector<HTMLElement>(".overlay")!;
    const composer = mount.querySelector<HTMLElement>("footer.composer")!;
    expect([overlay.hidden, composer.hidden]).toEqual([false, true]);
    overlay.querySelector<HTMLInputElement>("#sb-off-email")!.value = "ada@example.com";
    overlay.querySelector<HTMLTextAreaElement>("#sb-off-message")!.value = "Where is my order?";
    overlay.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await vi.advanceTimersByTimeAsync(0);
    expect(api.saveProfile).toHaveBeenLastCalledWith({ token: "vt_1", email: "ada@example.com" });
    expect(client.sent).toEqual([expect.objectContaining({ conversation: null, body: "Where is my order?" })]);
    expect(overlay.querySelector(".thanks")?.textContent).toContain("ada@example.com");
    await vi.advanceTimersByTimeAsync(4000);
    expect([overlay.hidden, composer.hidden]).toEqual([true, false]);
    expect(mount.querySelector(".row.mine .bubble")?.textContent).toBe("Where is my order?");
  });

  it("the offline form shows the server's refusal of the email under the field", async () => {
    const { client, mount } = await started(boot({ team_online: false }));
    const { ApiError } = await import("./api");
    api.saveProfile.mockRejectedValueOnce(new ApiError(400, "invalid_email", "bad"));
    const overlay = mount.querySelector<HTMLElement>(".overlay")!;
    overlay.querySelector<HTMLInputElement>("#sb-off-email")!.value = "ada@example.com";
    overlay.querySelector<HTMLTextAreaElement>("#sb-off-message")!.value = "Hi";
    overlay.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await vi.advanceTimersByTimeAsync(0);
    expect(overlay.querySelector("#sb-off-email-err")?.textContent).toBe("Please enter a valid email address.");
    expect(client.sent).toEqual([]);
  });

  it("a refused bootstrap shows that chat is unavailable and tells the host page nothing", async () => {
    setLanguage("en", {});
    api.bootstrap.mockRejectedValueOnce(new Error("origin not allowed"));
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const mount = document.createElement("div");
    const posted: unknown[] = [];
    const app = new WidgetController({ key: "wk_1", lang: "en", bridge: { post: (m) => posted.push(m) }, mount });
    await app.start({}, null, {});
    expect(mount.textContent).toBe("Chat is unavailable on this site.");
    expect(posted).toEqual([]);
    warn.mockRestore();
  });
});
