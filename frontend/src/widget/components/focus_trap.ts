/** Tab and Shift+Tab stay inside the open panel (a dialog), wrapping at either end. */

const FOCUSABLE = 'button:not([disabled]),textarea:not([disabled]),input:not([type=file]):not([disabled]),a[href],[tabindex]:not([tabindex="-1"])';

export function keepTabInside(root: HTMLElement, ev: KeyboardEvent): void {
  if (ev.key !== "Tab") return;
  const focusable = [...root.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.offsetParent !== null);
  if (!focusable.length) return;
  const first = focusable[0];
  const last = focusable[focusable.length - 1];
  const active = root.ownerDocument.activeElement;
  if (ev.shiftKey && (active === first || !root.contains(active))) {
    ev.preventDefault();
    last.focus();
  } else if (!ev.shiftKey && (active === last || !root.contains(active))) {
    ev.preventDefault();
    first.focus();
  }
}
