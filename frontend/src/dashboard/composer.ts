/** The reply box: reply or internal note, /shortcut canned responses, attachments with checks and previews. */
import type { Canned } from "./api";
import { config } from "./config";
import { clear, h } from "../shared/dom";
import { icon } from "./icons";
import { fileSize } from "./format";
import { store } from "./store";
import { t } from "../i18n";

export interface ComposerHandlers {
  send(body: string, kind: "text" | "note", file: File | null): Promise<void>;
  typing(on: boolean): void;
}

/** Checks a file before upload; returns a message for the agent, or null when it is fine. */
export function checkFile(file: File): string | null {
  const { maxBytes, contentTypes } = config().attachments;
  if (file.size === 0) return t("“{name}” is empty.", { name: file.name });
  if (file.size > maxBytes) return t("“{name}” is {size}; the limit is {limit}.", { name: file.name, size: fileSize(file.size), limit: fileSize(maxBytes) });
  const type = file.type || "application/octet-stream";
  const ok = contentTypes.some((allowed) => (allowed.endsWith("/*") ? type.startsWith(allowed.slice(0, -1)) : type === allowed));
  if (!ok) return t("Files of type “{type}” can't be sent. Try an image, PDF or text file.", { type: file.type || t("unknown") });
  return null;
}

export class Composer {
  el: HTMLElement;
  private input: HTMLTextAreaElement;
  private mode: "text" | "note" = "text";
  private file: File | null = null;
  private fileEl: HTMLElement;
  private errorEl: HTMLElement;
  private suggest: HTMLElement;
  private suggestions: Canned[] = [];
  private active = 0;
  private typingOn = false;
  private typingTimer = 0;
  private lastTypingSent = 0;
  private sendBtn: HTMLButtonElement;
  private sendLabel: HTMLElement;
  private tabs: HTMLElement;
  private previewUrl = "";

  constructor(private handlers: ComposerHandlers, private draftKey: string) {
    this.input = h("textarea", {
      class: "composer-input", rows: 1, placeholder: t("Reply to the visitor…  (type / for saved replies)"),
      "aria-label": t("Message"), "aria-autocomplete": "list", "aria-controls": "composer-suggest",
    });
    this.input.value = localStorage.getItem(this.draftKey) || "";
    this.fileEl = h("div", { class: "composer-file", hidden: true });
    this.errorEl = h("div", { class: "composer-error", role: "alert", hidden: true });
    this.suggest = h("div", { class: "suggest", id: "composer-suggest", role: "listbox", "aria-label": t("Saved replies"), hidden: true });
    const fileInput = h("input", { type: "file", hidden: true, accept: config().attachments.contentTypes.join(",") });
    fileInput.addEventListener("change", () => {
      if (fileInput.files?.[0]) this.pickFile(fileInput.files[0]);
      fileInput.value = "";
    });
    this.sendLabel = h("span", null, t("Send"));
    this.sendBtn = h("button", { class: "btn primary send", type: "button", onclick: () => void this.submit() },
      icon("send", 15), this.sendLabel);
    this.tabs = h("div", { class: "composer-tabs", role: "tablist" });
    this.renderTabs();
    this.el = h("div", { class: "composer" },
      this.suggest,
      this.tabs,
      h("div", { class: "composer-box" },
        this.input,
        this.fileEl,
        this.errorEl,
        h("div", { class: "composer-bar" },
          h("button", { class: "btn icon-btn", type: "button", title: t("Attach a file"), "aria-label": t("Attach a file"),
            onclick: () => fileInput.click() }, icon("clip", 17)),
          fileInput,
          h("span", { class: "hint" }, h("kbd", null, "Enter"), t(" to send · "), h("kbd", null, "Shift"), "+", h("kbd", null, "Enter"), t(" for a new line")),
          this.sendBtn)));
    this.input.addEventListener("input", () => this.onInput());
    this.input.addEventListener("keydown", (e) => this.onKey(e));
    this.input.addEventListener("blur", () => window.setTimeout(() => this.stopTyping(), 150));
    this.input.addEventListener("paste", (e) => {
      const f = e.clipboardData?.files?.[0];
      if (f) {
        e.preventDefault();
        this.pickFile(f);
      }
    });
    this.el.addEventListener("dragover", (e) => e.preventDefault());
    this.el.addEventListener("drop", (e) => {
      e.preventDefault();
      const f = e.dataTransfer?.files?.[0];
      if (f) this.pickFile(f);
    });
    this.autosize();
  }

  focus(): void {
    this.input.focus();
  }

  private renderTabs(): void {
    clear(this.tabs);
    const tab = (mode: "text" | "note", label: string) => h("button", {
      type: "button", role: "tab", class: `ctab${this.mode === mode ? " active" : ""}${mode === "note" ? " note" : ""}`,
      "aria-selected": String(this.mode === mode),
      onclick: () => this.setMode(mode),
    }, mode === "note" ? icon("note", 13) : icon("send", 13), label);
    this.tabs.append(tab("text", t("Reply")), tab("note", t("Internal note")));
  }

  setMode(mode: "text" | "note"): void {
    this.mode = mode;
    this.el.classList.toggle("note-mode", mode === "note");
    this.input.placeholder = mode === "note"
      ? t("Write an internal note — only your team sees it")
      : t("Reply to the visitor…  (type / for saved replies)");
    // The button says what will happen: a note never reaches the visitor.
    this.sendLabel.textContent = mode === "note" ? t("Add note") : t("Send");
    this.renderTabs();
    this.input.focus();
  }

  private showError(text: string): void {
    this.errorEl.textContent = text;
    this.errorEl.hidden = !text;
  }

  private pickFile(file: File): void {
    const problem = checkFile(file);
    if (problem) {
      this.showError(problem);
      return;
    }
    this.showError("");
    this.file = file;
    this.renderFile();
  }

  private renderFile(): void {
    clear(this.fileEl);
    if (this.previewUrl) URL.revokeObjectURL(this.previewUrl);
    this.previewUrl = "";
    this.fileEl.hidden = !this.file;
    if (!this.file) return;
    let preview: HTMLElement = icon("file", 20) as unknown as HTMLElement;
    if (this.file.type.startsWith("image/")) {
      this.previewUrl = URL.createObjectURL(this.file);
      preview = h("img", { src: this.previewUrl, alt: "" });
    }
    this.fileEl.append(
      h("span", { class: "file-preview" }, preview),
      h("span", { class: "att-name", title: this.file.name }, this.file.name),
      h("span", { class: "att-size" }, fileSize(this.file.size)),
      h("button", { class: "btn icon-btn", type: "button", "aria-label": t("Remove attachment"), onclick: () => {
        this.file = null;
        this.renderFile();
      } }, icon("x", 14)));
  }

  private autosize(): void {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 220)}px`;
  }

  private onInput(): void {
    this.autosize();
    localStorage.setItem(this.draftKey, this.input.value);
    this.updateSuggestions();
    if (this.mode === "text" && this.input.value.trim()) this.startTyping();
    else this.stopTyping();
  }

  private startTyping(): void {
    const now = Date.now();
    // Typing frames are throttled server-side too; one every 3 s keeps the indicator alive.
    if (!this.typingOn || now - this.lastTypingSent > 3000) {
      this.handlers.typing(true);
      this.typingOn = true;
      this.lastTypingSent = now;
    }
    clearTimeout(this.typingTimer);
    this.typingTimer = window.setTimeout(() => this.stopTyping(), 4000);
  }

  private stopTyping(): void {
    clearTimeout(this.typingTimer);
    if (this.typingOn) {
      this.typingOn = false;
      this.handlers.typing(false);
    }
  }

  private updateSuggestions(): void {
    const m = this.input.value.match(/^\/([\w-]*)$/);
    if (!m) {
      this.hideSuggestions();
      return;
    }
    const q = m[1].toLowerCase();
    this.suggestions = store.canned
      .filter((c) => c.shortcut.toLowerCase().startsWith(q) || (c.title || "").toLowerCase().includes(q))
      .slice(0, 8);
    this.active = 0;
    this.renderSuggestions();
  }

  private renderSuggestions(): void {
    clear(this.suggest);
    if (!this.suggestions.length) {
      this.suggest.hidden = store.canned.length > 0 ? false : true;
      if (store.canned.length) this.suggest.append(h("div", { class: "suggest-empty" }, t("No saved reply matches.")));
      return;
    }
    this.suggest.hidden = false;
    this.suggest.append(h("div", { class: "suggest-head", "aria-hidden": "true" }, h("span", null, t("Saved replies")),
      h("span", null, h("kbd", null, "↑"), h("kbd", null, "↓"), t(" choose · "), h("kbd", null, "Enter"), t(" insert · "), h("kbd", null, "Esc"), t(" close"))));
    this.suggestions.forEach((c, i) => {
      this.suggest.append(h("div", {
        class: `suggest-item${i === this.active ? " active" : ""}`, role: "option", "aria-selected": String(i === this.active),
        id: `suggest-${i}`,
        onmousedown: (e: Event) => {
          e.preventDefault();
          this.applyCanned(c);
        },
      }, h("span", { class: "shortcut" }, `/${c.shortcut}`), h("span", { class: "title" }, c.title || ""),
      h("span", { class: "snippet" }, c.body)));
    });
    this.input.setAttribute("aria-activedescendant", `suggest-${this.active}`);
    this.suggest.querySelector(".suggest-item.active")?.scrollIntoView({ block: "nearest" });
  }

  private hideSuggestions(): void {
    this.input.removeAttribute("aria-activedescendant");
    this.suggestions = [];
    this.suggest.hidden = true;
  }

  private applyCanned(c: Canned): void {
    const name = "";
    this.input.value = c.body.replace(/\{\{\s*agent\s*\}\}/g, store.me?.name || name);
    this.hideSuggestions();
    this.onInput();
    this.input.focus();
  }

  private onKey(e: KeyboardEvent): void {
    if (!this.suggest.hidden && this.suggestions.length) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const n = this.suggestions.length;
        this.active = (this.active + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
        this.renderSuggestions();
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        this.applyCanned(this.suggestions[this.active]);
        return;
      }
      if (e.key === "Escape") {
        this.hideSuggestions();
        return;
      }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void this.submit();
    }
  }

  async submit(): Promise<void> {
    const body = this.input.value.trim();
    if (!body && !this.file) return;
    if (body.length > config().messageMaxChars) {
      this.showError(t("That message is {n} characters; the limit is {limit}.", { n: body.length, limit: config().messageMaxChars }));
      return;
    }
    const file = this.file;
    const kind = this.mode;
    this.stopTyping();
    this.showError("");
    // Clear first so a quick second Enter can't send twice; restore on a failed upload.
    this.input.value = "";
    this.file = null;
    this.renderFile();
    this.autosize();
    this.hideSuggestions();
    try {
      await this.handlers.send(body, kind, file);
      localStorage.removeItem(this.draftKey);
    } catch (err) {
      this.input.value = body;
      this.file = file;
      this.renderFile();
      this.autosize();
      localStorage.setItem(this.draftKey, body);
      this.showError(err instanceof Error ? err.message : t("Could not send. Try again."));
    }
  }
}
