/** A button that opens the menu next to it, with the keyboard handling of a menu. */

/**
 * Wires a button to the menu next to it: click or Enter opens it with focus on the first item,
 * arrow keys move between items, Escape closes it and gives focus back to the button.
 * (Clicks elsewhere close menus too: one document listener in main.ts.)
 */
export function menuButton(button: HTMLElement, menu: HTMLElement): void {
  button.setAttribute("aria-haspopup", "menu");
  const items = () => [...menu.querySelectorAll<HTMLElement>("[role^='menuitem']")];
  const sync = () => button.setAttribute("aria-expanded", String(!menu.hidden));
  new MutationObserver(sync).observe(menu, { attributes: true, attributeFilter: ["hidden"] });
  sync();
  button.addEventListener("click", () => {
    menu.hidden = !menu.hidden;
    if (!menu.hidden) items()[0]?.focus({ preventScroll: true });
  });
  menu.addEventListener("keydown", (e) => {
    const list = items();
    const at = list.indexOf(document.activeElement as HTMLElement);
    if (e.key === "Escape") {
      e.preventDefault();
      menu.hidden = true;
      button.focus();
    } else if ((e.key === "ArrowDown" || e.key === "ArrowUp") && list.length) {
      e.preventDefault();
      const step = e.key === "ArrowDown" ? 1 : list.length - 1;
      list[at < 0 ? 0 : (at + step) % list.length].focus();
    }
  });
}
