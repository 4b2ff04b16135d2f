/** The widget's pure helpers: attachment checks, language choice, brand colours. */
import { describe, expect, it } from "vitest";
import { inkFor, safeColor } from "../src/widget/colors";
import { checkFile, humanSize } from "../src/widget/files";
import { fmt, pickLanguage, setLanguage, t, tn } from "../src/i18n";
import zhHans from "../src/i18n/zh-Hans/widget.json";

const MB = 1024 * 1024;

describe("attachment checks before upload", () => {
  it("accepts images and documents within the limit", () => {
    expect(checkFile({ name: "a.PNG", type: "image/png", size: 10 }, MB)).toEqual({ ok: true, image: true });
    expect(checkFile({ name: "r.pdf", type: "application/pdf", size: MB }, MB)).toEqual({ ok: true, image: false });
    expect(checkFile({ name: "notes.md", type: "", size: 5 }, MB)).toEqual({ ok: true, image: false });
  });
  it("refuses other types, mismatched extensions, empty and oversized files", () => {
    expect(checkFile({ name: "x.exe", type: "application/x-msdownload", size: 5 }, MB)).toEqual({ ok: false, reason: "bad_type" });
    expect(checkFile({ name: "page.html", type: "image/png", size: 5 }, MB)).toEqual({ ok: false, reason: "bad_type" });
    expect(checkFile({ name: "x.svg", type: "image/svg+xml", size: 5 }, MB)).toEqual({ ok: false, reason: "bad_type" });
    expect(checkFile({ name: "a.png", type: "image/png", size: 0 }, MB)).toEqual({ ok: false, reason: "empty" });
    expect(checkFile({ name: "a.png", type: "image/png", size: MB + 1 }, MB)).toEqual({ ok: false, reason: "too_large" });
  });
  it("says sizes the way people read them", () => {
    expect([humanSize(900), humanSize(2048), humanSize(1.5 * MB), humanSize(12 * MB)]).toEqual(["900 B", "2 KB", "1.5 MB", "12 MB"]);
  });
});

describe("language", () => {
  it("data-lang wins, then the browser; any Chinese is Simplified Chinese; else English", () => {
    expect(pickLanguage("zh-Hans", ["en-US"])).toBe("zh-Hans");
    expect(pickLanguage("en", ["zh-CN"])).toBe("en");
    expect(pickLanguage(null, ["zh-TW", "en"])).toBe("zh-Hans");
    expect(pickLanguage(null, ["fr-FR", "en-GB"])).toBe("en");
    expect(pickLanguage(null, ["de"])).toBe("en");
  });
  it("translates through the app's catalog, English when a string has no translation", () => {
    setLanguage("zh-Hans", { "zh-Hans": zhHans });
    expect(t("{name} is typing…", { name: "Al" })).toBe("Al 正在输入…");
    expect(t("Not in any catalog")).toBe("Not in any catalog");
    expect(tn("{n} file", "{n} files", 3)).toBe("3 files");
    setLanguage("en", {});
    expect(t("{name} is typing…", { name: "Al" })).toBe("Al is typing…");
    expect(tn("{n} file", "{n} files", 1)).toBe("1 file");
    expect(tn("{n} file", "{n} files", 2)).toBe("2 files");
  });
  it("fills placeholders as plain text", () => {
    expect(fmt("{name} is typing…", { name: "<b>Al</b>" })).toBe("<b>Al</b> is typing…");
    expect(fmt("{missing}", {})).toBe("{missing}");
  });
});

describe("brand colour", () => {
  it("only hex colours reach CSS", () => {
    expect(safeColor("#0EA5E9")).toBe("#0EA5E9");
    expect(safeColor("#abc")).toBe("#abc");
    expect(safeColor("red;}body{display:none")).toBe("#4f46e5");
    expect(safeColor("url(x)")).toBe("#4f46e5");
  });
  it("text on the brand colour stays readable", () => {
    expect(inkFor("#4f46e5")).toBe("#ffffff");
    expect(inkFor("#fde047")).toBe("#0f172a");
    expect(inkFor("#fff")).toBe("#0f172a");
  });
});
