/** Settings → Workspace & widget: the name, the widget's colour, position, greeting in each language,
 * pre-chat form, the sites allowed to embed it, with a live preview drawn as the widget draws itself. */
import { request } from "./api";
import { clear, h, svg } from "../shared/dom";
import { busy, copyButton, field } from "./settings_form";
import { identitySecretCard } from "./settings_secret";
import { toast } from "./toast";
import { language, t, type Lang } from "../i18n";
import widgetZhHans from "../i18n/zh-Hans/widget.json";
import { inkFor, safeColor } from "../widget/colors";

export interface Workspace {
  id: string;
  name: string;
  greeting: string;
  greetings: Record<string, string>;
  team_name: string;
  color: string;
  position: "left" | "right";
  prechat_form: boolean;
  time_zone: string;
  business_hours: Record<string, [string, string][]>;
  allowed_origins: string[];
  identity_verification: "off" | "optional" | "required";
  snippet: string;
  languages: string[];
  /** What visitors read per language while `greeting` is the default one. */
  default_greetings: Record<string, string>;
}

const T = {
  title: t("Workspace & widget"),
  intro: t("How the chat widget looks and greets visitors on your site."),
  name: t("Workspace name"),
  teamName: t("Name shown in the widget"),
  teamNameHelp: t("Leave empty to show the workspace name."),
  color: t("Brand colour"),
  colorHex: t("Brand colour (hex)"),
  position: t("Position on the page"),
  right: t("Bottom right"),
  left: t("Bottom left"),
  greeting: t("Greeting"),
  greetingHelp: t("The first message visitors see. A language left empty shows the English greeting."),
  languages: { en: "English", "zh-Hans": "简体中文" } as Record<string, string>,
  chars: (n: number, max: number) => t("{n} / {max}", { n, max }),
  prechat: t("Ask for name and email before the chat starts"),
  origins: t("Sites allowed to show the widget"),
  originsHelp: t("One per line, like https://www.example.com. The widget is refused on other sites."),
  identity: t("Identity verification"),
  identityOff: t("Off"),
  identityOptional: t("Optional (verified visitors are linked to their contact)"),
  identityRequired: t("Required (unverified visitors cannot chat)"),
  snippet: t("Install snippet"),
  snippetHelp: t("Paste before </body> on every page of your site."),
  copy: t("Copy"),
  copied: t("Snippet copied."),
  copyFailed: t("Select the snippet and copy it with Ctrl+C."),
  save: t("Save changes"),
  saved: t("Widget settings saved. Visitors see them on their next page load."),
  failed: t("Could not save the settings."),
  unsaved: t("Unsaved changes"),
  preview: t("Preview"),
  previewLang: t("Preview language"),
};

/** The widget's own words in `lang`, from the widget's catalog (the preview shows what visitors read). */
const WIDGET_CATALOGS: Partial<Record<Lang, Record<string, string>>> = { "zh-Hans": widgetZhHans };
function widgetWord(msgid: string, lang: Lang): string {
  return WIDGET_CATALOGS[lang]?.[msgid] ?? msgid;
}

export const GREETING_MAX = 280;

/** The settings a form holds, as the PATCH body sends them. */
export interface WidgetForm {
  name: string;
  team_name: string;
  color: string;
  position: "left" | "right";
  greeting: string;
  greetings: Record<string, string>;
  prechat_form: boolean;
  allowed_origins: string[];
  identity_verification: Workspace["identity_verification"];
}

/** One origin per line, blanks dropped (the server checks and normalises each). */
export function originsFromText(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
}

/** What the preview shows for `lang`: the widget's own words and the greeting a visitor reading `lang`
 * gets (its own text, else the default greeting's translation while the greeting is the default, else
 * the greeting), as `Tenant.greeting_for` picks it. */
export function previewModel(form: Pick<WidgetForm, "name" | "team_name" | "color" | "greeting" | "greetings">, lang: Lang,
  defaults: Record<string, string> = {}) {
  const own = form.greetings[lang];
  const color = safeColor(form.color);
  let greeting = form.greeting;
  if (lang !== "en" && own && own.trim()) greeting = own;
  else if (lang !== "en" && form.greeting === defaults.en && defaults[lang]) greeting = defaults[lang];
  return {
    title: form.team_name.trim() || form.name.trim() || widgetWord("Chat", lang),
    greeting,
    online: widgetWord("We're online", lang),
    placeholder: widgetWord("Write a message…", lang),
    prechatTitle: widgetWord("Before we start", lang),
    nameLabel: widgetWord("Name", lang),
    emailLabel: widgetWord("Email", lang),
    color,
    ink: inkFor(color),
  };
}

export class WidgetSettings {
  el: HTMLElement;
  private data: Workspace | null = null;
  /** The preview (and greeting tab) starts in the language the dashboard is shown in. */
  private lang: Lang = language();

  constructor() {
    this.el = h("section", { class: "settings-section", "aria-labelledby": "settings-widget-title" });
  }

  async load(): Promise<void> {
    this.data = await request<Workspace>("GET", "/workspace");
    this.render(this.data);
  }

  private render(ws: Workspace): void {
    clear(this.el);
    const name = h("input", { class: "input wide", name: "name", value: ws.name, maxlength: 100, required: true, autocomplete: "organization" });
    const teamName = h("input", { class: "input wide", name: "team_name", value: ws.team_name, maxlength: 60, placeholder: ws.name });
    const colorPick = h("input", { type: "color", class: "color-swatch", name: "color", value: safeColor(ws.color), "aria-label": T.color });
    const colorHex = h("input", { class: "input mono", name: "color_hex", value: ws.color, maxlength: 7, size: 8, spellcheck: "false", "aria-label": T.colorHex });
    const posRight = h("input", { type: "radio", name: "position", value: "right", checked: ws.position !== "left" });
    const posLeft = h("input", { type: "radio", name: "position", value: "left", checked: ws.position === "left" });
    const greetings: Record<string, HTMLTextAreaElement> = {};
    const counters: Record<string, HTMLElement> = {};
    const tabs = h("div", { class: "lang-tabs", role: "tablist", "aria-label": T.previewLang });
    const panes = h("div", { class: "lang-panes" });
    for (const lang of ws.languages) {
      const text = lang === "en" ? ws.greeting : ws.greetings[lang] || "";
      const area = h("textarea", { class: "input textarea", name: lang === "en" ? "greeting" : `greeting-${lang}`, rows: 3, maxlength: GREETING_MAX, lang, "aria-label": `${T.greeting} (${T.languages[lang] || lang})` });
      area.value = text;
      greetings[lang] = area;
      counters[lang] = h("span", { class: "counter muted small" }, T.chars(text.length, GREETING_MAX));
      const tab = h("button", { type: "button", role: "tab", class: "lang-tab", id: `tab-${lang}`, "aria-controls": `pane-${lang}`, "aria-selected": String(lang === this.lang), "data-lang": lang }, T.languages[lang] || lang);
      const pane = h("div", { role: "tabpanel", id: `pane-${lang}`, "aria-labelledby": `tab-${lang}`, hidden: lang !== this.lang }, area, counters[lang]);
      tab.addEventListener("click", () => {
        this.lang = lang as Lang;
        for (const t of tabs.querySelectorAll("[role=tab]")) t.setAttribute("aria-selected", String(t === tab));
        for (const p of panes.children) (p as HTMLElement).hidden = p !== pane;
        update();
      });
      tabs.append(tab);
      panes.append(pane);
    }
    const prechat = h("input", { type: "checkbox", name: "prechat_form", checked: ws.prechat_form });
    const origins = h("textarea", { class: "input textarea mono", name: "allowed_origins", rows: 3, spellcheck: "false" });
    origins.value = ws.allowed_origins.join("\n");
    const identity = h("select", { class: "select", name: "identity_verification" },
      ...([["off", T.identityOff], ["optional", T.identityOptional], ["required", T.identityRequired]] as const)
        .map(([v, label]) => h("option", { value: v, selected: ws.identity_verification === v }, label)));
    const save = h("button", { type: "submit", class: "btn primary" }, T.save);
    const dirty = h("span", { class: "muted small", hidden: true, "data-dirty": "" }, T.unsaved);
    const preview = h("div", { class: "wpreview", "aria-label": T.preview, role: "img" });

    const read = (): WidgetForm => {
      const others: Record<string, string> = {};
      for (const lang of ws.languages) if (lang !== "en") others[lang] = greetings[lang].value;
      return {
        name: name.value, team_name: teamName.value, color: colorHex.value.trim(),
        position: posLeft.checked ? "left" : "right", greeting: greetings.en.value, greetings: others,
        prechat_form: prechat.checked, allowed_origins: originsFromText(origins.value),
        identity_verification: identity.value as Workspace["identity_verification"],
      };
    };
    const update = () => {
      const form = read();
      for (const lang of ws.languages) counters[lang].textContent = T.chars(greetings[lang].value.length, GREETING_MAX);
      drawPreview(preview, form, this.lang, ws.default_greetings);
    };
    colorPick.addEventListener("input", () => {
      colorHex.value = colorPick.value;
      update();
    });
    colorHex.addEventListener("input", () => {
      if (/^#[0-9a-fA-F]{6}$/.test(colorHex.value.trim())) colorPick.value = colorHex.value.trim().toLowerCase();
      update();
    });

    const form = h("form", { class: "settings-form", novalidate: true },
      h("div", { class: "settings-grid" },
        h("div", { class: "settings-fields" },
          field(T.name, name, { name: "name" }),
          field(T.teamName, teamName, { name: "team_name", help: T.teamNameHelp }),
          field(T.color, h("div", { class: "color-row", "data-control": "" }, colorPick, colorHex), { name: "color" }),
          h("fieldset", { class: "field" }, h("legend", { class: "field-label" }, T.position),
            h("div", { class: "segmented" },
              h("label", null, posRight, T.right), h("label", null, posLeft, T.left)),
            h("p", { class: "field-error", "data-error-for": "position", hidden: true })),
          h("div", { class: "field", "data-field": "greeting" },
            h("span", { class: "field-label" }, T.greeting), tabs, panes,
            h("p", { class: "field-help" }, T.greetingHelp),
            h("p", { class: "field-error", "data-error-for": "greeting", hidden: true }),
            h("p", { class: "field-error", "data-error-for": "greetings", hidden: true })),
          h("label", { class: "check" }, prechat, T.prechat),
          field(T.origins, origins, { name: "allowed_origins", help: T.originsHelp }),
          field(T.identity, identity, { name: "identity_verification" })),
        h("div", { class: "settings-preview" }, h("h3", { class: "preview-title" }, T.preview), preview)),
      h("div", { class: "field snippet-field" },
        h("span", { class: "field-label" }, T.snippet),
        h("div", { class: "snippet-row" }, h("code", { class: "snippet" }, ws.snippet), copyButton(() => ws.snippet, T.copy, T.copied, T.copyFailed)),
        h("p", { class: "field-help" }, T.snippetHelp)),
      identitySecretCard(),
      h("div", { class: "settings-actions" }, save, dirty));
    form.addEventListener("input", () => {
      dirty.hidden = false;
      update();
    });
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void busy(save, form, T.failed, () => request<Workspace>("PATCH", "/workspace", read())).then((saved) => {
        if (!saved) return;
        this.data = saved;
        dirty.hidden = true;
        toast(T.saved);
      });
    });
    this.el.append(
      h("header", { class: "settings-head" }, h("h2", { id: "settings-widget-title" }, T.title), h("p", { class: "muted" }, T.intro)),
      form);
    update();
  }
}

/** The preview: the open widget panel (header in the brand colour, the greeting) and its launcher. */
export function drawPreview(host: HTMLElement, form: WidgetForm, lang: Lang, defaults: Record<string, string> = {}): void {
  const m = previewModel(form, lang, defaults);
  host.dataset.position = form.position;
  host.style.setProperty("--p-brand", m.color);
  host.style.setProperty("--p-ink", m.ink);
  host.lang = lang;
  clear(host);
  const body = h("div", { class: "wp-body" },
    h("div", { class: "wp-row" }, h("span", { class: "wp-avatar", "aria-hidden": "true" }, m.title.slice(0, 1).toUpperCase()),
      h("div", { class: "wp-bubble", "data-preview": "greeting" }, m.greeting)));
  if (form.prechat_form) {
    body.append(h("div", { class: "wp-prechat" }, h("strong", null, m.prechatTitle),
      h("span", { class: "wp-input" }, m.nameLabel), h("span", { class: "wp-input" }, m.emailLabel)));
  }
  host.append(
    h("div", { class: "wp-panel" },
      h("div", { class: "wp-head", "data-preview": "head" },
        h("div", { class: "wp-title", "data-preview": "title" }, m.title),
        h("div", { class: "wp-sub" }, h("span", { class: "wp-dot" }), m.online)),
      body,
      h("div", { class: "wp-composer" }, m.placeholder)),
    h("div", { class: "wp-launcher", "data-preview": "launcher" },
      svg("svg", { viewBox: "0 0 24 24", width: 24, height: 24, "aria-hidden": "true" },
        svg("path", { d: "M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z", fill: "none", stroke: "currentColor", "stroke-width": 2 }))));
}
