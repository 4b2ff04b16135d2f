/** Client-side attachment checks (the server checks again, by the file's bytes). */

/** What the server accepts: bootstrap's `settings.attachments` (these defaults only until it answers). */
export interface FileLimits {
  maxBytes: number;
  /** content type -> accepted extensions (with the dot) */
  types: Record<string, readonly string[]>;
}

export const ALLOWED_TYPES: Record<string, readonly string[]> = {
  "image/png": [".png"],
  "image/jpeg": [".jpg", ".jpeg"],
  "image/gif": [".gif"],
  "image/webp": [".webp"],
  "application/pdf": [".pdf"],
  "text/plain": [".txt", ".log", ".md"],
  "text/csv": [".csv"],
  "application/zip": [".zip"],
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": [".docx"],
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": [".xlsx"],
};
export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_LIMITS: FileLimits = { maxBytes: DEFAULT_MAX_BYTES, types: ALLOWED_TYPES };

/** The `accept` attribute for a file input. */
export function acceptFor(types: Record<string, readonly string[]>): string {
  return [...Object.keys(types), ...Object.values(types).flat()].join(",");
}
export const ACCEPT = acceptFor(ALLOWED_TYPES);

/**
 * The server's limits from bootstrap settings, validated: anything malformed keeps the default
 * (a broken value must not let every file through, nor refuse every file).
 */
export function limitsFrom(raw: unknown): FileLimits {
  const r = (raw && typeof raw === "object" ? raw : {}) as { max_bytes?: unknown; types?: unknown };
  const maxBytes = typeof r.max_bytes === "number" && Number.isFinite(r.max_bytes) && r.max_bytes > 0 ? Math.floor(r.max_bytes) : DEFAULT_MAX_BYTES;
  let types: Record<string, readonly string[]> = ALLOWED_TYPES;
  if (r.types && typeof r.types === "object" && !Array.isArray(r.types)) {
    const parsed: Record<string, string[]> = {};
    for (const [ct, exts] of Object.entries(r.types as Record<string, unknown>)) {
      if (/^[\w.+-]+\/[\w.+-]+$/.test(ct) && Array.isArray(exts)) {
        const clean = exts.filter((e): e is string => typeof e === "string" && /^\.[\w]+$/.test(e)).map((e) => e.toLowerCase());
        if (clean.length) parsed[ct] = clean;
      }
    }
    if (Object.keys(parsed).length) types = parsed;
  }
  return { maxBytes, types };
}

export type FileCheck = { ok: true; image: boolean } | { ok: false; reason: "too_large" | "bad_type" | "empty" };

export function checkFile(file: { name: string; type: string; size: number }, limits: FileLimits | number): FileCheck {
  const { maxBytes, types } = typeof limits === "number" ? { maxBytes: limits, types: ALLOWED_TYPES } : limits;
  if (file.size <= 0) return { ok: false, reason: "empty" };
  const ext = file.name.includes(".") ? file.name.slice(file.name.lastIndexOf(".")).toLowerCase() : "";
  const byType = file.type && Object.prototype.hasOwnProperty.call(types, file.type) ? types[file.type] : undefined;
  const byExt = Object.entries(types).find(([, exts]) => exts.includes(ext));
  // Browsers leave `type` empty for some files (e.g. .md): the extension decides then.
  if (!(byType ? byType.includes(ext) || !ext : byExt)) return { ok: false, reason: "bad_type" };
  if (file.size > maxBytes) return { ok: false, reason: "too_large" };
  const type = byType ? file.type : byExt ? byExt[0] : "";
  return { ok: true, image: type.startsWith("image/") };
}

/**
 * A size for people: one decimal below 10 units, whole units above. Rounded up by default (a file
 * just over a limit never looks equal to it); pass `Math.floor` for a limit (never overstated).
 */
export function humanSize(bytes: number, round: (x: number) => number = Math.ceil): string {
  const fmt = (n: number) => {
    if (n >= 10) return String(round(n));
    const v = round(n * 10) / 10; // exact: bytes / 1024 * 10 has no rounding error at these sizes
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
  };
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${fmt(bytes / 1024)} KB`;
  return `${fmt(bytes / 1024 / 1024)} MB`;
}
