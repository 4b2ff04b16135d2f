/** The widget's icons (filled, one path each) and how to draw one. */
import { svg } from "../shared/dom";

/** A static icon from a path (our own constants, never user data). */
export function icon(path: string, cls = "icon"): SVGElement {
  return svg("svg", { viewBox: "0 0 24 24", "aria-hidden": "true", class: cls }, svg("path", { d: path }));
}

export const ICONS = {
  close: "M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z",
  send: "M3.4 20.4 21 12 3.4 3.6 3.4 10.2 15 12 3.4 13.8z",
  clip: "M16.5 6.5v10.6a4.5 4.5 0 0 1-9 0V5.9a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5H9v9.9a3 3 0 0 0 6 0V5.9a4.5 4.5 0 0 0-9 0v11.2a6 6 0 0 0 12 0V6.5z",
  file: "M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zm0 2.5L17.5 8H14zM6 20V4h6v6h6v10z",
  check: "M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z",
  checks: "M18 7l-1.4-1.4-6.3 6.3 1.4 1.4zm4.2-1.4L11.6 16.2 7.4 12 6 13.4l5.6 5.6 12-12zM.4 13.4 6 19l1.4-1.4L1.8 12z",
  clock: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16zm.5-13H11v6l5.2 3.2.8-1.2-4.5-2.7z",
  star: "M12 17.3 18.2 21l-1.6-7L22 9.2l-7.2-.6L12 2 9.2 8.6 2 9.2 7.4 14l-1.6 7z",
  alert: "M1 21h22L12 2zm12-3h-2v-2h2zm0-4h-2v-4h2z",
  back: "M15.4 7.4 14 6l-6 6 6 6 1.4-1.4-4.6-4.6z",
  chevron: "M8.6 16.6 10 18l6-6-6-6-1.4 1.4 4.6 4.6z",
  plus: "M19 13h-6v6h-2v-6H5v-2h6V5h2v6h6z",
};
