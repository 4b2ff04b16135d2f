/**
 * The composer: the text box (grows with its text, Enter sends, Shift+Enter is a new line), the
 * picked file's chip, a notice line, and the bar that replaces it in a resolved conversation.
 * It holds the picked file; what sending means is the controller's.
 */
import { h } from "../../shared/dom";
import { t } from "../../i18n";
import { humanSize } from "../files";
import { icon, ICONS } from "../icons";

export interface ComposerHandlers {
  /** The visitor typed (typing indicator). */
  typed(): void;
  /** Send what is in the box and the chip; the send button is updated when it settles. */
  submit(): Promise<void>;
  /** A file was picked, dropped or pasted: check it and maybe `setFile` it. */
  pick(file: File): void;
}

export interface PickedFile {
  file: File;
  /** An object URL for an image's preview, else null. */
  url: string | null;
}

export class Composer {
  readonly textarea = h("textarea", { rows: 1, placeholder: t("Write a message…"), "aria-label": t("Write a message…"), maxlength: 10000 });
  readonly fileInput: HTMLInputElement;
  readonly attachBtn = h("button", { class: "icon-btn attach", type: "button", "aria-label": t("Attach a file"), title: t("Attach a file") }, icon(ICONS.clip));
  readonly sendBtn = h("button", { class: "send", type: "submit", "aria-label": t("Send"), title: t("Send"), disabled: true }, icon(ICONS.send));
  readonly chip = h("div", { class: "chip", hidden: true });
  readonly notice = h("p", { class: "notice", role: "alert", hidden: true });
  readonly form: HTMLFormElement;
  readonly resolvedBar = h("div", { class: "resolved-bar", hidden: true });
  readonly resolvedNew = h("button", { class: "primary", type: "button" }, icon(ICONS.plus), t("Start a new conversation"));
  readonly replyBtn = h("button", { class: "link", type: "button", text: t("Reply to reopen it") });
  readonly root = h("footer", { class: "composer" });
  /** The file waiting to go with the next send. */
  file: PickedFile | null = null;

  constructor(accept: string) {
    this.fileInput = h("input", { type: "file", accept, hidden: true, "aria-hidden": "true", tabindex: -1 });
    this.form = h("form", { class: "compose-row" }, this.attachBtn, this.textarea, this.sendBtn, this.fileInput);
    this.resolvedBar.append(h("p", { class: "resolved-note", text: t("This conversation has been resolved.") }), this.resolvedNew, this.replyBtn);
    this.root.append(this.notice, this.chip, this.form, this.resolvedBar, h("p", { class: "powered", text: t("Powered by Switchboard") }));
  }

  /** Listen to the box, the buttons, and files dropped anywhere on `dropZone`. */
  wire(handlers: ComposerHandlers, dropZone: HTMLElement): void {
    const { textarea, fileInput, form } = this;
    const update = () => {
      this.sendBtn.disabled = !textarea.value.trim() && !this.file;
      textarea.style.height = "auto";
      textarea.style.height = `${Math.min(textarea.scrollHeight, 120)}px`;
    };
    textarea.addEventListener("input", () => {
      update();
      handlers.typed();
    });
    textarea.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void handlers.submit().then(update);
    });
    this.attachBtn.addEventListener("click", () => fileInput.click());
    fileInput.addEventListener("change", () => {
      const file = fileInput.files?.[0];
      fileInput.value = "";
      if (file) handlers.pick(file);
      update();
    });
    dropZone.addEventListener("dragover", (ev) => ev.preventDefault());
    dropZone.addEventListener("drop", (ev) => {
      ev.preventDefault();
      const file = ev.dataTransfer?.files?.[0];
      if (file) handlers.pick(file);
      update();
    });
    textarea.addEventListener("paste", (ev) => {
      const file = ev.clipboardData?.files?.[0];
      if (file) {
        ev.preventDefault();
        handlers.pick(file);
        update();
      }
    });
  }

  /** Show a checked file in the chip (with a preview for an image) until it is sent or removed. */
  setFile(file: File, image: boolean): void {
    this.clearFile();
    const url = image ? URL.createObjectURL(file) : null;
    this.file = { file, url };
    const remove = h("button", { type: "button", class: "icon-btn", "aria-label": t("Remove attachment") }, icon(ICONS.close));
    remove.addEventListener("click", () => {
      this.clearFile();
      this.sendBtn.disabled = !this.textarea.value.trim();
      this.textarea.focus();
    });
    this.chip.replaceChildren(
      url ? h("img", { src: url, alt: "" }) : icon(ICONS.file, "fi"),
      h("span", { class: "fname", text: file.name }),
      h("span", { class: "fsize", text: humanSize(file.size) }),
      remove,
    );
    this.chip.hidden = false;
  }

  clearFile(): void {
    if (this.file?.url) URL.revokeObjectURL(this.file.url);
    this.file = null;
    this.chip.hidden = true;
    this.chip.replaceChildren();
  }

  /** The chip's file is being uploaded: the send button waits. */
  setUploading(on: boolean): void {
    if (on) this.sendBtn.disabled = true;
    this.chip.classList.toggle("uploading", on);
  }

  showNotice(text: string | null): void {
    this.notice.hidden = !text;
    this.notice.replaceChildren(...(text ? [icon(ICONS.alert), h("span", { text })] : []));
  }

  /** A resolved conversation: the composer gives way to "resolved" + new conversation / reply. */
  setResolved(on: boolean): void {
    this.resolvedBar.hidden = !on;
    this.form.hidden = on;
  }
}
