/** Settings → Labels, Canned responses and Teams: a form to add one, and the list with Edit and Delete.
 * Each goes through its REST resource (/labels, /canned-responses, /teams); refusals show under the field. */
import { t } from "../i18n";
import { asList, request, type Agent, type Page } from "./api";
import { clear, h } from "../shared/dom";
import { busy, field } from "./settings_form";
import { toast } from "./toast";

interface Label { id: string; name: string; color: string }
interface Canned { id: string; shortcut: string; title: string; body: string }
interface Team { id: string; name: string; members: string[] }

const T = {
  labels: t("Labels"),
  labelsIntro: t("Tag conversations to sort and filter the inbox."),
  canned: t("Canned responses"),
  cannedIntro: t("Saved replies: type / and the shortcut in the composer to insert one."),
  teams: t("Teams"),
  teamsIntro: t("Groups of agents that conversations can be routed to."),
  name: t("Name"),
  color: t("Colour"),
  shortcut: t("Shortcut"),
  shortcutHelp: t("Letters, digits, - or _; typed as /shortcut."),
  title: t("Title"),
  body: t("Reply"),
  members: t("Members"),
  add: t("Add"),
  save: t("Save"),
  cancel: t("Cancel"),
  edit: t("Edit"),
  remove: t("Delete"),
  confirmRemove: t("Delete for good?"),
  failed: t("Could not save."),
  noLabels: t("No labels yet."),
  noCanned: t("No canned responses yet."),
  noTeams: t("No teams yet."),
  noMembers: t("No members"),
};

/** What a list section needs from its resource. */
interface Resource<R extends { id: string }> {
  path: string;
  title: string;
  intro: string;
  empty: string;
  /** The form's controls for a new or an existing row, and how to read them back. */
  form(row: R | null): { fields: HTMLElement[]; read(): Record<string, unknown> };
  /** One row of the list. */
  describe(row: R): (Node | string)[];
  key(row: R): string;
}

/** "/shortcut" typed with its slash is the same shortcut. */
export function cleanShortcut(value: string): string {
  return value.trim().replace(/^\/+/, "");
}

/** A confirm-twice Delete button (no browser dialog). */
function deleteButton(action: () => Promise<void>): HTMLButtonElement {
  const button = h("button", { type: "button", class: "btn small danger" }, T.remove);
  let armed = false;
  button.addEventListener("click", () => {
    if (!armed) {
      armed = true;
      button.textContent = T.confirmRemove;
      window.setTimeout(() => { armed = false; button.textContent = T.remove; }, 4000);
      return;
    }
    button.disabled = true;
    void action().finally(() => (button.disabled = false));
  });
  return button;
}

class ListSection<R extends { id: string }> {
  el: HTMLElement;
  private list: HTMLElement;
  private formHost = h("div");
  private editing: R | null = null;

  constructor(private res: Resource<R>, private id: string) {
    this.el = h("section", { class: "settings-section", "aria-labelledby": `settings-${id}-title` });
    this.list = h("ul", { class: "settings-list", "aria-label": res.title, "data-list": id });
  }

  async load(): Promise<void> {
    clear(this.el);
    this.el.append(
      h("header", { class: "settings-head" }, h("h2", { id: `settings-${this.id}-title` }, this.res.title), h("p", { class: "muted" }, this.res.intro)),
      this.formHost, this.list);
    this.drawForm();
    await this.refresh();
  }

  private drawForm(): void {
    clear(this.formHost);
    const editing = this.editing;
    const { fields, read } = this.res.form(editing);
    const submit = h("button", { type: "submit", class: "btn primary" }, editing ? T.save : T.add);
    const form = h("form", { class: "settings-card list-form", novalidate: true, "data-form": this.id }, ...fields,
      h("div", { class: "inline-form" }, submit,
        editing ? h("button", { type: "button", class: "btn", onclick: () => { this.editing = null; this.drawForm(); } }, T.cancel) : null));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const path = editing ? `${this.res.path}/${encodeURIComponent(editing.id)}` : this.res.path;
      void busy(submit, form, T.failed, () => request<R>(editing ? "PATCH" : "POST", path, read())).then((saved) => {
        if (!saved) return;
        toast(t("Saved “{name}”.", { name: this.res.key(saved) }));
        this.editing = null;
        this.drawForm();
        void this.refresh();
      });
    });
    this.formHost.append(form);
  }

  private async refresh(): Promise<void> {
    const rows = asList(await request<Page<R>>("GET", `${this.res.path}?limit=100`));
    clear(this.list);
    if (!rows.length) this.list.append(h("li", { class: "empty" }, this.res.empty));
    for (const row of rows) {
      this.list.append(h("li", { "data-row": this.res.key(row) },
        ...this.res.describe(row),
        h("button", { type: "button", class: "btn small", onclick: () => {
          this.editing = row;
          this.drawForm();
          this.formHost.scrollIntoView({ block: "nearest" });
        } }, T.edit),
        deleteButton(async () => {
          await request("DELETE", `${this.res.path}/${encodeURIComponent(row.id)}`);
          await this.refresh();
        })));
    }
  }
}

export function labelSettings(): ListSection<Label> {
  return new ListSection<Label>({
    path: "/labels", title: T.labels, intro: T.labelsIntro, empty: T.noLabels,
    key: (l) => l.name,
    form(row) {
      const name = h("input", { class: "input wide", name: "name", maxlength: 50, value: row?.name || "", autocomplete: "off" });
      const color = h("input", { type: "color", class: "color-swatch", name: "color", value: row?.color || "#64748b" });
      return {
        fields: [h("div", { class: "inline-form" }, h("div", { class: "grow" }, field(T.name, name, { name: "name" })), field(T.color, color, { name: "color" }))],
        read: () => ({ name: name.value, color: color.value }),
      };
    },
    describe: (l) => [h("span", { class: "label-swatch", style: `background:${/^#[0-9a-f]{6}$/i.test(l.color) ? l.color : "#64748b"}`, "aria-hidden": "true" }),
      h("div", { class: "grow row-title" }, l.name)],
  }, "labels");
}

export function cannedSettings(): ListSection<Canned> {
  return new ListSection<Canned>({
    path: "/canned-responses", title: T.canned, intro: T.cannedIntro, empty: T.noCanned,
    key: (c) => `/${c.shortcut}`,
    form(row) {
      const shortcut = h("input", { class: "input wide mono", name: "shortcut", maxlength: 41, value: row?.shortcut || "", autocomplete: "off", spellcheck: "false" });
      const title = h("input", { class: "input wide", name: "title", maxlength: 80, value: row?.title || "" });
      const body = h("textarea", { class: "input textarea", name: "body", rows: 4, maxlength: 5000 });
      body.value = row?.body || "";
      return {
        fields: [h("div", { class: "inline-form" },
          h("div", { class: "grow" }, field(T.shortcut, shortcut, { name: "shortcut", help: T.shortcutHelp })),
          h("div", { class: "grow" }, field(T.title, title, { name: "title" }))),
        field(T.body, body, { name: "body" })],
        read: () => ({ shortcut: cleanShortcut(shortcut.value), title: title.value, body: body.value }),
      };
    },
    describe: (c) => [h("div", { class: "grow" },
      h("div", { class: "row-title" }, h("code", null, `/${c.shortcut}`), c.title ? ` ${c.title}` : ""),
      h("div", { class: "row-sub clamp" }, c.body))],
  }, "canned");
}

export function teamSettings(): ListSection<Team> {
  let agents: Agent[] = [];
  const names = () => new Map(agents.map((a) => [a.id, a.name]));
  const section = new ListSection<Team>({
    path: "/teams", title: T.teams, intro: T.teamsIntro, empty: T.noTeams,
    key: (team) => team.name,
    form(row) {
      const name = h("input", { class: "input wide", name: "name", maxlength: 80, value: row?.name || "", autocomplete: "off" });
      const chosen = new Set(row?.members || []);
      const boxes = agents.map((a) => h("input", { type: "checkbox", name: "member", value: a.id, checked: chosen.has(a.id) }));
      return {
        fields: [field(T.name, name, { name: "name" }),
          h("fieldset", { class: "field" }, h("legend", { class: "field-label" }, T.members),
            h("div", { class: "event-grid" }, ...boxes.map((b, i) => h("label", { class: "check" }, b, agents[i].name))),
            h("p", { class: "field-error", "data-error-for": "members", hidden: true }))],
        read: () => ({ name: name.value, members: boxes.filter((b) => b.checked).map((b) => b.value) }),
      };
    },
    describe: (team) => [h("div", { class: "grow" },
      h("div", { class: "row-title" }, team.name),
      h("div", { class: "row-sub" }, team.members.map((id) => names().get(id) || "").filter(Boolean).join(", ") || T.noMembers))],
  }, "teams");
  const load = section.load.bind(section);
  section.load = async () => {
    agents = asList(await request<Page<Agent>>("GET", "/agents?limit=100"));
    await load();
  };
  return section;
}
