/** Client-side attachment checks (the server checks again, by the file's bytes). */
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
export const ACCEPT = [...Object.keys(ALLOWED_TYPES), ...Object.values(ALLOWED_TYPES).flat()].join(",");
export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;

export type FileCheck = { ok: true; image: boolean } | { ok: false; reason: "too_large" | "bad_type" | "empty" };

export function checkFile(file: { name: string; type: string; size: number }, maxBytes: number): FileCheck {
  if (file.size <= 0) return { ok: false, reason: "empty" };
  const ext = file.name.includes(".") ? file.name.slice(file.name.lastIndexOf(".")).toLowerCase() : "";
  const byType = file.type && ALLOWED_TYPES[file.type];
  const byExt = Object.entries(ALLOWED_TYPES).find(([, exts]) => exts.includes(ext));
  // Browsers leave `type` empty for some files (e.g. .md): the extension decides then.
  if (!(byType ? byType.includes(ext) || !ext : byExt)) return { ok: false, reason: "bad_type" };
  if (file.size > maxBytes) return { ok: false, reason: "too_large" };
  const type = byType ? file.type : byExt ? byExt[0] : "";
  return { ok: true, image: type.startsWith("image/") };
}

export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MB`;
}
