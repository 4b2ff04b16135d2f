/**
 * The scanner behind test/i18n.test.ts: every user-visible string of the TypeScript apps goes
 * through the catalog (docs/i18n.md).
 *
 * Reads each source file with the TypeScript parser and fails on:
 * - a string literal with words in a place the user reads (DOM children of `h()`, text attributes
 *   such as `text`, `title`, `placeholder`, `aria-label`, assignments to `textContent`/`title`/
 *   `placeholder`/`document.title`, `setAttribute` of such an attribute, `toast()`/`confirm()`/
 *   notifications) that is not inside `t()`/`tn()`;
 * - any other literal that reads like a sentence or a label ("Assign to me", "Saved.") outside `t()`
 *   (strings kept in variables before they reach the DOM), unless it is on the small allow-list;
 * - `t()`/`tn()` called with anything but string literals, or with a string missing from the app's
 *   Chinese catalog, a translation whose {placeholders} differ, or a catalog entry no source uses.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

export const ROOT = join(import.meta.dirname, "..");
export const SRC = join(ROOT, "src");
// Which catalog each source folder uses (src/client and src/shared have no UI).
export const APPS: Record<string, string> = { widget: "widget", loader: "loader", dashboard: "dashboard", sw: "sw" };

/** Literals that are not text for people: keep this list short, and say why. */
const ALLOWED = new Set<string>([
  "Switchboard", // the product's name, the same in every language
  "Enter", "Shift", "Esc", // key caps shown in keyboard hints, printed in English on keyboards
  "avatar team", // a class list, widget/components/avatar.ts avatar(name, cls)
  "English", // a language by its own name (the language lists)
  "HTTP", // the protocol, as in "HTTP 500"
  "Windows", "Android", "Linux", "Edge", "Opera", "Safari", // system and browser names (format.ts browserName)
]);

const TEXT_ATTRS = new Set(["text", "title", "placeholder", "aria-label", "alt", "aria-description",
  "aria-roledescription", "aria-valuetext", "label", "data-tooltip"]);
const TEXT_PROPS = new Set(["textContent", "innerText", "title", "placeholder", "ariaLabel", "alt", "label"]);
const TEXT_CALLS = new Set(["toast", "alert", "confirm", "prompt", "showNotification", "createTextNode",
  "setBanner", "showError", "announce"]);
/** Attributes and calls whose strings are machinery: class lists, selectors, event and field names. */
const CODE_PROPS = new Set(["class", "className", "rel", "target", "type", "role", "autocomplete", "inputmode",
  "method", "sandbox", "allow", "name", "id", "for", "href", "src", "d", "viewBox", "fill", "stroke", "key", "value"]);
const CODE_CALLS = new Set(["add", "remove", "toggle", "contains", "querySelector", "querySelectorAll", "closest",
  "matches", "addEventListener", "removeEventListener", "getElementById", "emit", "on", "off", "getItem",
  "setItem", "removeItem", "get", "has", "delete", "startsWith", "endsWith", "includes", "split", "replace", "join",
  "request", "fetch", "getAttribute", "removeAttribute", "createElement", "createElementNS", "postMessage"]);
const DOM_CHILD_CALLS = new Set(["append", "prepend", "replaceChildren", "before", "after", "replaceWith"]);

export function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") && !path.endsWith(".test.ts") && !path.endsWith(".d.ts") ? [path] : [];
  });
}

/** Has words a person reads (not a class name, selector, code, URL or MIME type). */
function hasWords(text: string): boolean {
  const s = text.replace(/<[^>]*>/g, " ").trim(); // markup: only the text between tags counts
  if (/^[a-z][\w-]*$/.test(s)) return false; // one lowercase token: "left", "open" (CSS values, codes)
  if (/[{};]/.test(s) && /[\w-]+\s*:\s*[^;{}]+[;}]/.test(s)) return false; // CSS
  if (/^[^\s{}]+\s*\{/.test(s) || /^[\w-]+:[^\s]/.test(s)) return false; // CSS rules, `:host{…}`
  if (ALLOWED.has(s)) return false;
  // Allowed words inside a longer string ("HTTP ${code}" reads "HTTP x") do not count either.
  const rest = s.split(/\s+/).filter((w) => !ALLOWED.has(w) && w !== "x").join(" ");
  return /\p{L}{2,}/u.test(rest);
}

/** Reads like a sentence or a label: "Assign to me", "Saved.", "Loading…", "No results". */
function readsLikeText(text: string): boolean {
  const s = text.trim();
  if (!hasWords(s)) return false;
  if (/^[a-z0-9_.:/#?&=%@[\]^'"*()-]+$/i.test(s) && !/^[A-Z][a-z]+$/.test(s)) return false; // tokens, urls, codes
  if (/^(https?:|mailto:|\/|\.|#|\[|@|data:)/.test(s)) return false;
  if (/^x ?(B|KB|MB|GB|px|ms|s|m|h|d)$/.test(s)) return false; // a number and its unit symbol
  if (/^[a-z][\w-]*$/.test(s)) return false; // one lowercase token: a code, an event name, a class
  if (/^[\w-]+\/[\w.+-]+(\s*,\s*[\w-]+\/[\w.+-]+)*$/.test(s)) return false; // MIME types
  if (/[{};]|=>|\$\{/.test(s) && !/\{\w+\}/.test(s)) return false; // CSS or code
  return /^[A-Z][a-z]/.test(s) || /\s\p{L}/u.test(s) || /[….?!:]$/.test(s) || /^\p{Lu}[\p{Ll}]+$/u.test(s);
}

export interface Finding { file: string; line: number; text: string; why: string; start: number; end: number; plain: boolean }

/** Helpers that look a literal up in another app's catalog: the settings' widget preview. */
const OTHER_CATALOG_CALLS: Record<string, string> = { widgetWord: "widget" };

export function scan(file: string): { findings: Finding[]; msgids: string[]; borrowed: [string, string][] } {
  const code = readFileSync(file, "utf8");
  const sf = ts.createSourceFile(file, code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const findings: Finding[] = [];
  const msgids: string[] = [];
  const borrowed: [string, string][] = [];
  const rel = relative(ROOT, file);
  const where = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart()).line + 1;
  const report = (n: ts.Node, text: string, why: string) =>
    findings.push({ file: rel, line: where(n), text, why, start: n.getStart(), end: n.getEnd(), plain: ts.isStringLiteral(n) });
  const calleeName = (e: ts.Expression): string =>
    ts.isIdentifier(e) ? e.text : ts.isPropertyAccessExpression(e) ? e.name.text : "";

  // `chip status-${s}` reads as "chip status-x" (a class list); `Upload failed: ${e}` as text.
  const templateShape = (n: ts.TemplateExpression): string =>
    n.head.text + n.templateSpans.map((s) => "x" + s.literal.text).join("");
  const literalText = (n: ts.Node): string | null => {
    if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) return n.text;
    if (ts.isTemplateExpression(n)) return n.head.text + n.templateSpans.map((s) => " " + s.literal.text).join("");
    return null;
  };

  /** A user-visible position: flag every literal with words reachable without passing t(). */
  const visible = (n: ts.Node, why: string): void => {
    if (ts.isCallExpression(n) && ["t", "tn"].includes(calleeName(n.expression))) return;
    const text = literalText(n);
    if (text !== null) {
      if (hasWords(text)) report(n, text, why);
      if (ts.isTemplateExpression(n)) n.templateSpans.forEach((s) => visible(s.expression, why));
      return;
    }
    if (ts.isParenthesizedExpression(n) || ts.isAsExpression(n)) return visible(n.expression, why);
    if (ts.isConditionalExpression(n)) { visible(n.whenTrue, why); visible(n.whenFalse, why); return; }
    if (ts.isBinaryExpression(n) && [ts.SyntaxKind.BarBarToken, ts.SyntaxKind.QuestionQuestionToken,
      ts.SyntaxKind.PlusToken, ts.SyntaxKind.AmpersandAmpersandToken].includes(n.operatorToken.kind)) {
      visible(n.left, why); visible(n.right, why); return;
    }
    if (ts.isArrayLiteralExpression(n)) n.elements.forEach((e) => visible(e, why));
  };

  /** A class list or similar, `cond ? "dot on" : "dot"`: its literals are machinery; calls inside still count. */
  const machinery = (n: ts.Node): void => {
    if (literalText(n) !== null && !ts.isTemplateExpression(n)) return;
    if (ts.isConditionalExpression(n) || ts.isBinaryExpression(n) || ts.isParenthesizedExpression(n) || ts.isTemplateExpression(n)) {
      return ts.forEachChild(n, (c) => (ts.isExpression(c) ? machinery(c) : undefined));
    }
    if (ts.isTemplateSpan(n)) return machinery(n.expression);
    visit(n, false, false);
  };

  const visit = (n: ts.Node, insideT: boolean, quiet: boolean): void => {
    if (ts.isImportDeclaration(n) || ts.isExportDeclaration(n) || ts.isTypeNode(n)) return;
    if (ts.isCallExpression(n)) {
      const name = calleeName(n.expression);
      if (name === "t" || name === "tn") {
        const count = name === "t" ? 1 : 2;
        n.arguments.slice(0, count).forEach((a, i) => {
          // tn(singular, plural, n): the singular is the catalog key (Chinese has one form).
          if (ts.isStringLiteral(a) || ts.isNoSubstitutionTemplateLiteral(a)) { if (i === 0) msgids.push(a.text); }
          else report(a, a.getText(sf), `${name}() needs a string literal (the catalog test cannot see others)`);
        });
        n.arguments.slice(count).forEach((a) => visit(a, false, quiet));
        return;
      }
      if (Object.prototype.hasOwnProperty.call(OTHER_CATALOG_CALLS, name)) {
        const [first, ...rest] = n.arguments;
        if (first && (ts.isStringLiteral(first) || ts.isNoSubstitutionTemplateLiteral(first))) borrowed.push([OTHER_CATALOG_CALLS[name], first.text]);
        else if (first) report(first, first.getText(sf), `${name}() needs a string literal`);
        rest.forEach((a) => visit(a, false, quiet));
        return;
      }
      const target = ts.isPropertyAccessExpression(n.expression) ? n.expression.expression.getText(sf) : "";
      // Messages for developers (console, thrown errors the app never shows) are not translated.
      if (target === "console") return n.arguments.forEach((a) => visit(a, insideT, true));
      if (name === "h" || name === "svg") {
        const [, attrs, ...children] = n.arguments;
        if (attrs && ts.isObjectLiteralExpression(attrs)) {
          for (const p of attrs.properties) {
            if (ts.isPropertyAssignment(p)) {
              const key = ts.isIdentifier(p.name) ? p.name.text : ts.isStringLiteral(p.name) ? p.name.text : "";
              if (TEXT_ATTRS.has(key)) visible(p.initializer, `h() attribute ${key}`);
            }
          }
        }
        if (name === "h") children.forEach((c) => visible(c, "h() child"));
      } else if (TEXT_CALLS.has(name) && n.arguments.length) {
        visible(n.arguments[0], `${name}()`); // toast(text, kind): the rest are options
      } else if (DOM_CHILD_CALLS.has(name)) {
        // FormData/URLSearchParams.append("field", value) names a field, it shows nothing.
        const field = n.arguments.length >= 2 && literalText(n.arguments[0]);
        if (!(field && /^[a-z_][\w-]*$/.test(field))) n.arguments.forEach((a) => visible(a, `${name}()`));
      } else if (name === "setAttribute" && n.arguments.length === 2) {
        const attr = literalText(n.arguments[0]);
        if (attr && TEXT_ATTRS.has(attr)) visible(n.arguments[1], `setAttribute ${attr}`);
      }
    }
    // new Error("…") is for developers (logs, stack traces); errors the app shows carry server text or t().
    if (ts.isNewExpression(n) && calleeName(n.expression) === "Error") {
      return n.arguments?.forEach((a) => visit(a, insideT, true));
    }
    if (ts.isNewExpression(n) && calleeName(n.expression) === "Notification") {
      n.arguments?.forEach((a) => visible(a, "Notification"));
    }
    if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
        ts.isPropertyAccessExpression(n.left) && TEXT_PROPS.has(n.left.name.text)) {
      visible(n.right, `.${n.left.name.text} =`);
    }
    // Compared, looked up or tested for, never shown: `key === "Enter"`, `"Notification" in window`.
    if (ts.isBinaryExpression(n) && [ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken,
      ts.SyntaxKind.InKeyword].includes(n.operatorToken.kind)) {
      [n.left, n.right].forEach((side) => { if (literalText(side) === null) visit(side, insideT, quiet); });
      return;
    }
    if (ts.isCaseClause(n)) return n.statements.forEach((st) => visit(st, insideT, quiet));
    if (ts.isPropertyAssignment(n)) {
      const key = ts.isIdentifier(n.name) ? n.name.text : ts.isStringLiteral(n.name) ? n.name.text : "";
      if (CODE_PROPS.has(key) || key.startsWith("data-")) return machinery(n.initializer);
    }
    if (ts.isCallExpression(n) && CODE_CALLS.has(calleeName(n.expression))) {
      visit(n.expression, insideT, quiet);
      n.arguments.forEach((a) => { if (literalText(a) === null) visit(a, insideT, quiet); });
      return;
    }
    if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
        ts.isPropertyAccessExpression(n.left) && CODE_PROPS.has(n.left.name.text)) {
      if (literalText(n.right) === null) visit(n.right, insideT, quiet);
      return;
    }
    const text = literalText(n);
    const prose = text !== null && readsLikeText(ts.isTemplateExpression(n) ? templateShape(n) : text);
    if (text !== null && !insideT && !quiet && prose) {
      report(n, text, "reads like text: wrap it in t() (or allow-list it in this test, saying why)");
    }
    ts.forEachChild(n, (c) => visit(c, insideT, quiet));
  };
  visit(sf, false, false);
  // One finding per literal (a DOM position and the general rule may both catch it).
  const seen = new Set<string>();
  return {
    findings: findings.filter((f) => {
      const key = `${f.file}:${f.start}`;
      return seen.has(key) ? false : (seen.add(key), true);
    }),
    msgids,
    borrowed,
  };
}

