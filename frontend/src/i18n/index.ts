/**
 * The one translation mechanism of the TypeScript apps (widget, dashboard).
 *
 * Source strings are English and are their own keys, as with gettext: `t("Assign to {name}", {name})`.
 * Each app has one catalog per language, `frontend/src/i18n/<lang>/<app>.json`, mapping the English
 * text to its translation; an untranslated string shows in English. `tn()` picks the English plural
 * form by `n` and looks the singular up (Chinese has one form). See docs/i18n.md.
 */

export type Lang = "en" | "zh-Hans";
export const LANGUAGES: readonly Lang[] = ["en", "zh-Hans"];
export type Catalog = Readonly<Record<string, string>>;
export type Values = Record<string, string | number>;

let current: Lang = "en";
let catalog: Catalog = {};

/** The first supported language among the user's choice and then the browser's (`navigator.languages`). */
export function pickLanguage(choice: string | null | undefined, browser: readonly string[] = []): Lang {
  for (const tag of [choice, ...browser]) {
    if (!tag) continue;
    const lower = tag.toLowerCase();
    // zh, zh-CN, zh-Hans, zh-SG and also zh-TW/zh-Hant: Simplified is the only Chinese we have.
    if (lower.startsWith("zh")) return "zh-Hans";
    if (lower.startsWith("en")) return "en";
  }
  return "en";
}

/**
 * Makes `lang` the language of every later `t()`, with the app's catalogs (English needs none).
 * It does not touch the page: the loader runs on customers' pages, whose `<html lang>` is theirs.
 */
export function setLanguage(lang: Lang, catalogs: Partial<Record<Lang, Catalog>>): void {
  current = lang;
  catalog = catalogs[lang] ?? {};
}

export function language(): Lang {
  return current;
}

/** Fills `{name}` placeholders. The result is plain text: always render it with textContent. */
export function fmt(template: string, values?: Values): string {
  if (!values) return template;
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in values ? String(values[k]) : m));
}

/** The translation of `msgid` (English text) with `{placeholders}` filled in. */
export function t(msgid: string, values?: Values): string {
  return fmt(catalog[msgid] ?? msgid, values);
}

/** Plural: `tn("{n} conversation", "{n} conversations", n)`; `{n}` is filled in with `n`. */
export function tn(singular: string, plural: string, n: number, values?: Values): string {
  const translated = catalog[singular];
  const text = translated ?? (n === 1 ? singular : plural);
  return fmt(text, { n, ...values });
}

/** Numbers and dates in the current language (Intl locale tags). */
export function locale(): string {
  return current === "zh-Hans" ? "zh-CN" : "en";
}
