/**
 * The language switch in the rail: posts to /accounts/language/ (saved on the agent, so pages and
 * emails follow it too), and the page comes back in that language. "Browser language" clears the choice.
 */
import { t } from "../i18n";
import { config } from "./config";
import { h } from "../shared/dom";
import { icon } from "./icons";
import { menuButton } from "./menu_button";

export function languageMenu(csrf: string): HTMLElement {
  const { languages, language: chosen, setLanguageUrl } = config();
  const button = h("button", { class: "rail-btn", type: "button", title: t("Language"), "aria-label": t("Language") }, icon("globe", 19));
  const next = h("input", { type: "hidden", name: "next", value: "/app/" });
  const item = (value: string, label: string, lang?: string) =>
    h("button", { type: "submit", name: "language", value, lang, class: `menu-item${chosen === value ? " checked" : ""}`,
      role: "menuitemradio", "aria-checked": String(chosen === value), "data-language": value || "browser" }, label);
  const menu = h("form", { method: "post", action: setLanguageUrl, class: "menu rail-menu", role: "menu", "aria-label": t("Language"), hidden: true },
    h("input", { type: "hidden", name: "csrfmiddlewaretoken", value: csrf }),
    next,
    item("", t("Browser language")),
    // Each language by its own name ("English", "简体中文"), as people look for it.
    ...languages.map((l) => item(l.code, l.name, l.code)));
  menu.addEventListener("submit", () => {
    next.value = location.pathname + location.search;
  });
  menuButton(button, menu);
  return h("div", { class: "menu-wrap" }, button, menu);
}
