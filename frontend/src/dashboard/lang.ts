/**
 * The dashboard's language, set before any view is built (main.ts imports this first): the agent's
 * choice (profile setting or language switch, sent by the server in the page config), then the browser's.
 */
import { pickLanguage, setLanguage, type Lang } from "../i18n";
import zhHans from "../i18n/zh-Hans/dashboard.json";
import { config } from "./config";

export const lang: Lang = pickLanguage(config().language, navigator.languages ?? [navigator.language]);
setLanguage(lang, { "zh-Hans": zhHans });
document.documentElement.lang = lang;
