/** The tenant's brand colour as the widget (and the dashboard's settings preview) uses it. */

/** Tenant colours come from settings: accept only #rgb/#rrggbb so they cannot inject CSS. */
export function safeColor(c: string): string {
  return /^#[0-9a-f]{3}([0-9a-f]{3})?$/i.test(c) ? c : "#4f46e5";
}

/** Black or white text, whichever reads better on the brand colour. */
export function inkFor(hex: string): string {
  const full = hex.length === 4 ? `#${hex[1]}${hex[1]}${hex[2]}${hex[2]}${hex[3]}${hex[3]}` : hex;
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(full.slice(i, i + 2), 16) / 255);
  const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return lum > 0.6 ? "#0f172a" : "#ffffff";
}
