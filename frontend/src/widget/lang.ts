/** The widget's language, set before any of its views is built: `?lang=` (the snippet's `data-lang`), then the browser's. */
import { pickLanguage, setLanguage, type Lang } from "../i18n";
import zhHans from "../i18n/zh-Hans/widget.json";

export const lang: Lang = pickLanguage(
  new URLSearchParams(location.search).get("lang"),
  navigator.languages ?? [navigator.language],
);
setLanguage(lang, { "zh-Hans": zhHans });
document.documentElement.lang = lang;
