/** Settings the server puts in the page (limits, push key), read once from a JSON script tag. */

export interface DashboardConfig {
  attachments: { maxBytes: number; contentTypes: string[] };
  messageMaxChars: number;
  vapidPublicKey: string;
  loginUrl: string;
  logoutUrl: string;
  /** The events a webhook endpoint can subscribe to. */
  webhookEventTypes: string[];
  /** The agent's chosen language ("en", "zh-Hans"), or "" to follow the browser. */
  language: string;
  /** Where the language switch posts (`language`, `next`; Django's CSRF token). */
  setLanguageUrl: string;
  languages: { code: string; name: string }[];
}

let cached: DashboardConfig | null = null;

const DEFAULTS: DashboardConfig = {
  attachments: {
    maxBytes: 10 * 1024 * 1024,
    contentTypes: ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"],
  },
  messageMaxChars: 10000,
  vapidPublicKey: "",
  loginUrl: "/accounts/login/",
  logoutUrl: "/accounts/logout/",
  webhookEventTypes: [],
  language: "",
  setLanguageUrl: "/accounts/language/",
  languages: [],
};

export function config(): DashboardConfig {
  if (cached) return cached;
  const el = document.getElementById("dashboard-config");
  let parsed: Partial<DashboardConfig> = {};
  try {
    parsed = el?.textContent ? JSON.parse(el.textContent) : {};
  } catch {
    parsed = {};
  }
  cached = { ...DEFAULTS, ...parsed, attachments: { ...DEFAULTS.attachments, ...(parsed.attachments || {}) } };
  return cached;
}
