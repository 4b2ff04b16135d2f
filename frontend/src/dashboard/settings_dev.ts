/** Settings → API tokens and Webhooks: what integrations use. A token or a signing secret is shown once,
 * right after it is made (copy it then); webhook endpoints get event checkboxes and a test delivery. */
import { t } from "../i18n";
import { asList, request, type Page } from "./api";
import { config } from "./config";
import { clear, h } from "../shared/dom";
import { busy, copyButton, field } from "./settings_form";
import { toast } from "./toast";

interface Token {
  id: string;
  name: string;
  prefix: string;
  scope: "read" | "read_write";
  created: string;
  created_by: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface Endpoint {
  id: string;
  url: string;
  description: string;
  event_types: string[];
  is_active: boolean;
  disabled_reason: string;
  failing_since: string | null;
  consecutive_failures: number;
  secret?: string;
}

export interface Delivery {
  id?: string;
  event_type?: string;
  created?: string;
  attempts?: number;
  status: string;
  last_response_code: number | null;
  last_duration_ms: number | null;
  last_error: string;
}

const T = {
  tokens: t("API tokens"),
  tokensIntro: t("Tokens let your own systems call the REST API as this workspace."),
  tokenName: t("Name"),
  tokenNameHelp: t("What uses it, e.g. “CRM sync”."),
  scope: t("Access"),
  read: t("Read only"),
  readWrite: t("Read and write"),
  create: t("Create token"),
  createFailed: t("Could not create the token."),
  tokenOnce: t("Copy this token now: it is shown only once."),
  copy: t("Copy"),
  copied: t("Copied."),
  copyFailed: t("Select the text and copy it with Ctrl+C."),
  done: t("Done"),
  noTokens: t("No tokens yet."),
  revoke: t("Revoke"),
  confirmRevoke: t("Revoke for good?"),
  revoked: t("Revoked"),
  never: t("never used"),
  webhooks: t("Webhooks"),
  webhooksIntro: t("Switchboard posts a signed JSON request to your URL when these events happen."),
  url: t("Endpoint URL"),
  urlHelp: t("A public https address."),
  description: t("Description"),
  events: t("Events"),
  allEvents: t("All events, including ones added later"),
  add: t("Add endpoint"),
  save: t("Save endpoint"),
  cancel: t("Cancel"),
  addFailed: t("Could not save the endpoint."),
  secretOnce: t("This endpoint's signing secret. Copy it now: it is shown only once. Verify the Switchboard-Signature header with it."),
  noEndpoints: t("No endpoints yet."),
  test: t("Send test"),
  edit: t("Edit"),
  disable: t("Disable"),
  enable: t("Enable"),
  rotate: t("New secret"),
  remove: t("Delete"),
  confirmRemove: t("Delete with its log?"),
  active: t("Active"),
  disabled: t("Disabled"),
  deliveries: t("Deliveries"),
  hideDeliveries: t("Hide deliveries"),
  noDeliveries: t("Nothing sent yet."),
  redeliver: t("Send again"),
  requeued: t("Queued again."),
  statuses: { pending: t("Pending"), succeeded: t("Delivered"), failed: t("Failed"), dead: t("Gave up") } as Record<string, string>,
};

/** What a test delivery did, in one line. */
export function deliveryText(d: Delivery): string {
  if (d.status === "succeeded") return t("Delivered: HTTP {code} in {ms} ms.", { code: d.last_response_code ?? "", ms: d.last_duration_ms ?? 0 });
  if (d.last_response_code) return t("Failed: HTTP {code} — {error}", { code: d.last_response_code, error: d.last_error });
  return t("Failed: {error}", { error: d.last_error || t("no answer") });
}

/** The checked boxes as the API takes them: ["*"] for all events. */
export function eventSelection(all: boolean, picked: string[]): string[] {
  return all ? ["*"] : picked;
}

function when(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : "";
}

/** A button that asks once more before `action` (no browser dialogs). */
function confirmingButton(label: string, confirm: string, action: () => Promise<void>): HTMLButtonElement {
  const button = h("button", { type: "button", class: "btn small danger" }, label);
  let armed = false;
  button.addEventListener("click", () => {
    if (!armed) {
      armed = true;
      button.textContent = confirm;
      window.setTimeout(() => {
        armed = false;
        button.textContent = label;
      }, 4000);
      return;
    }
    button.disabled = true;
    void action().finally(() => (button.disabled = false));
  });
  return button;
}

/** The box that shows a secret once, with Copy and Done. */
function secretBox(text: string, secret: string, onDone: () => void): HTMLElement {
  const box = h("div", { class: "secret-box", role: "status", "data-secret": "" },
    h("p", null, text), h("code", null, secret),
    h("div", { class: "inline-form" }, copyButton(() => secret, T.copy, T.copied, T.copyFailed),
      h("button", { type: "button", class: "btn small", onclick: () => { box.remove(); onDone(); } }, T.done)));
  return box;
}

export class TokenSettings {
  el = h("section", { class: "settings-section", "aria-labelledby": "settings-tokens-title" });
  private list = h("ul", { class: "settings-list", "aria-label": T.tokens, "data-list": "tokens" });
  private shown = h("div");

  async load(): Promise<void> {
    clear(this.el);
    const name = h("input", { class: "input wide", name: "name", maxlength: 80, required: true, autocomplete: "off" });
    const scope = h("select", { class: "select", name: "scope" },
      h("option", { value: "read" }, T.read), h("option", { value: "read_write" }, T.readWrite));
    const create = h("button", { type: "submit", class: "btn primary" }, T.create);
    const form = h("form", { class: "settings-card inline-form", novalidate: true },
      h("div", { class: "grow" }, field(T.tokenName, name, { name: "name", help: T.tokenNameHelp })),
      field(T.scope, scope, { name: "scope" }),
      h("div", { class: "field" }, h("span", { class: "field-label", "aria-hidden": "true" }, "\u00a0"), create));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void busy(create, form, T.createFailed, () => request<Token & { token: string }>("POST", "/tokens", { name: name.value, scope: scope.value }))
        .then((issued) => {
          if (!issued) return;
          name.value = "";
          clear(this.shown);
          this.shown.append(secretBox(T.tokenOnce, issued.token, () => undefined));
          void this.refresh();
        });
    });
    this.el.append(
      h("header", { class: "settings-head" }, h("h2", { id: "settings-tokens-title" }, T.tokens), h("p", { class: "muted" }, T.tokensIntro)),
      form, this.shown, this.list);
    await this.refresh();
  }

  private async refresh(): Promise<void> {
    const tokens = asList(await request<Page<Token>>("GET", "/tokens?limit=100"));
    clear(this.list);
    if (!tokens.length) this.list.append(h("li", { class: "empty" }, T.noTokens));
    for (const tok of tokens) {
      const row = h("li", { "data-token": tok.name },
        h("div", { class: "grow" },
          h("div", { class: "row-title" }, tok.name, " ", h("code", { class: "muted small" }, `${tok.prefix}…`)),
          h("div", { class: "row-sub" }, [tok.scope === "read" ? T.read : T.readWrite, tok.created_by || "",
            tok.last_used_at ? t("last used {when}", { when: when(tok.last_used_at) }) : T.never].filter(Boolean).join(" · "))));
      if (tok.revoked_at) row.append(h("span", { class: "chip muted" }, T.revoked));
      else {
        row.append(confirmingButton(T.revoke, T.confirmRevoke, async () => {
          await request("DELETE", `/tokens/${encodeURIComponent(tok.id)}`);
          toast(t("Token “{name}” revoked: it stops working at once.", { name: tok.name }));
          await this.refresh();
        }));
      }
      this.list.append(row);
    }
  }
}

export class WebhookSettings {
  el = h("section", { class: "settings-section", "aria-labelledby": "settings-webhooks-title" });
  private list = h("ul", { class: "settings-list", "aria-label": T.webhooks, "data-list": "webhooks" });
  private shown = h("div");
  private editing: Endpoint | null = null;
  private form = h("form", { class: "settings-card webhook-form", novalidate: true });

  async load(): Promise<void> {
    clear(this.el);
    this.drawForm();
    this.el.append(
      h("header", { class: "settings-head" }, h("h2", { id: "settings-webhooks-title" }, T.webhooks), h("p", { class: "muted" }, T.webhooksIntro)),
      this.form, this.shown, this.list);
    await this.refresh();
  }

  private drawForm(): void {
    const form = this.form;
    clear(form);
    const editing = this.editing;
    const url = h("input", { class: "input wide mono", name: "url", type: "url", maxlength: 2000, placeholder: "https://hooks.example.com/switchboard", value: editing?.url || "", autocomplete: "off" });
    const description = h("input", { class: "input wide", name: "description", maxlength: 200, value: editing?.description || "" });
    const chosen = new Set(editing?.event_types || []);
    const all = h("input", { type: "checkbox", name: "all_events", checked: chosen.has("*") });
    const boxes = config().webhookEventTypes.map((type) => h("input", { type: "checkbox", name: "event", value: type, checked: chosen.has(type) }));
    const sync = () => boxes.forEach((b) => (b.disabled = all.checked));
    all.addEventListener("change", sync);
    sync();
    const submit = h("button", { type: "submit", class: "btn primary" }, editing ? T.save : T.add);
    form.append(
      field(T.url, url, { name: "url", help: T.urlHelp }),
      field(T.description, description, { name: "description" }),
      h("fieldset", { class: "field events" }, h("legend", { class: "field-label" }, T.events),
        h("label", { class: "check" }, all, T.allEvents),
        h("div", { class: "event-grid" }, ...boxes.map((b) => h("label", { class: "check" }, b, h("code", null, b.value)))),
        h("p", { class: "field-error", "data-error-for": "event_types", hidden: true })),
      h("div", { class: "inline-form" }, submit,
        editing ? h("button", { type: "button", class: "btn", onclick: () => { this.editing = null; this.drawForm(); } }, T.cancel) : null));
    form.onsubmit = (e) => {
      e.preventDefault();
      const events = eventSelection(all.checked, boxes.filter((b) => b.checked).map((b) => b.value));
      const body = { url: url.value.trim(), description: description.value, event_types: events };
      const target = this.editing;
      void busy(submit, form, T.addFailed, () => target
        ? request<Endpoint>("PATCH", `/webhooks/${encodeURIComponent(target.id)}`, body)
        : request<Endpoint>("POST", "/webhooks", body))
        .then((saved) => {
          if (!saved) return;
          clear(this.shown);
          if (!target && saved.secret) this.shown.append(secretBox(T.secretOnce, saved.secret, () => undefined));
          else toast(t("Endpoint saved."));
          this.editing = null;
          this.drawForm();
          void this.refresh();
        });
    };
  }

  private async refresh(): Promise<void> {
    const endpoints = asList(await request<Page<Endpoint>>("GET", "/webhooks?limit=100"));
    clear(this.list);
    if (!endpoints.length) this.list.append(h("li", { class: "empty" }, T.noEndpoints));
    for (const ep of endpoints) this.list.append(this.row(ep));
  }

  private row(ep: Endpoint): HTMLElement {
    const result = h("p", { class: "delivery-result", role: "status", hidden: true });
    const path = `/webhooks/${encodeURIComponent(ep.id)}`;
    const test = h("button", { type: "button", class: "btn small" }, T.test);
    test.addEventListener("click", () => void busy(test, result, T.addFailed, () => request<Delivery>("POST", `${path}/ping`)).then((d) => {
      if (!d) return;
      if (!log.hidden) void drawLog();
      result.hidden = false;
      result.textContent = deliveryText(d);
      result.className = `delivery-result ${d.status === "succeeded" ? "ok" : "failed"}`;
    }));
    const toggle = h("button", { type: "button", class: "btn small" }, ep.is_active ? T.disable : T.enable);
    toggle.addEventListener("click", () => void busy(toggle, result, T.addFailed, () => request<Endpoint>("PATCH", path, { is_active: !ep.is_active }))
      .then(() => this.refresh()));
    const rotate = h("button", { type: "button", class: "btn small" }, T.rotate);
    rotate.addEventListener("click", () => void busy(rotate, result, T.addFailed, () => request<Endpoint>("PATCH", path, { rotate_secret: true }))
      .then((saved) => {
        if (!saved?.secret) return;
        clear(this.shown);
        this.shown.append(secretBox(T.secretOnce, saved.secret, () => undefined));
        this.shown.scrollIntoView({ block: "nearest" });
      }));
    const log = h("ul", { class: "delivery-log", hidden: true, "aria-label": T.deliveries });
    const showLog = h("button", { type: "button", class: "btn small", "aria-expanded": "false" }, T.deliveries);
    const drawLog = async () => {
      const rows = asList(await request<Page<Delivery>>("GET", `${path}/deliveries?limit=10`));
      clear(log);
      if (!rows.length) log.append(h("li", { class: "muted" }, T.noDeliveries));
      for (const d of rows) {
        const again = d.status === "failed" || d.status === "dead"
          ? h("button", { type: "button", class: "link small", onclick: () => void request("POST", `${path}/deliveries/${encodeURIComponent(d.id || "")}/redeliver`)
            .then(() => { toast(T.requeued); void drawLog(); }, (err: unknown) => toast(err instanceof Error ? err.message : T.addFailed, "error")) }, T.redeliver)
          : null;
        log.append(h("li", { class: `delivery ${d.status}`, "data-delivery": d.event_type || "" },
          h("code", null, d.event_type || ""), h("span", { class: "delivery-status" }, T.statuses[d.status] || d.status),
          h("span", { class: "muted" }, d.last_response_code ? `HTTP ${d.last_response_code}` : d.last_error),
          h("span", { class: "muted small" }, when(d.created || null)), again));
      }
    };
    showLog.addEventListener("click", () => {
      log.hidden = !log.hidden;
      showLog.setAttribute("aria-expanded", String(!log.hidden));
      showLog.textContent = log.hidden ? T.deliveries : T.hideDeliveries;
      if (!log.hidden) void drawLog().catch(() => toast(T.addFailed, "error"));
    });
    const edit = h("button", { type: "button", class: "btn small", onclick: () => {
      this.editing = ep;
      this.drawForm();
      this.form.scrollIntoView({ block: "nearest" });
      this.form.querySelector<HTMLInputElement>("input[name=url]")?.focus();
    } }, T.edit);
    const status = ep.is_active
      ? h("span", { class: "chip ok" }, T.active)
      : h("span", { class: "chip muted", title: ep.disabled_reason }, T.disabled);
    const events = ep.event_types.includes("*") ? T.allEvents : ep.event_types.join(", ");
    return h("li", { "data-endpoint": ep.url },
      h("div", { class: "grow" },
        h("div", { class: "row-title mono" }, ep.url),
        h("div", { class: "row-sub" }, [ep.description, events].filter(Boolean).join(" · ")),
        !ep.is_active && ep.disabled_reason ? h("div", { class: "row-sub" }, ep.disabled_reason) : null,
        result),
      status, test, showLog, edit, toggle, rotate,
      confirmingButton(T.remove, T.confirmRemove, async () => {
        await request("DELETE", path);
        await this.refresh();
      }),
      log);
  }
}
