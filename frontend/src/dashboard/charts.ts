/** Hand-drawn SVG bar charts for the statistics page. */
import { svg } from "../shared/dom";

export interface Bar {
  label: string;
  value: number;
  title?: string;
}

/** A responsive bar chart: bars share the width, a few labels avoid clutter, values show on hover. */
export function barChart(bars: Bar[], opts: { height?: number; width?: number; labelEvery?: number; highlight?: number; label?: string } = {}): SVGElement {
  const height = opts.height ?? 180;
  // Drawn at the size it is shown (when known) so the axis text is never squeezed.
  const width = Math.max(240, Math.round(opts.width ?? 640));
  const padTop = 12;
  const padBottom = 22;
  const padLeft = 30;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const niceMax = niceCeil(max);
  const plotH = height - padTop - padBottom;
  const step = (width - padLeft) / Math.max(1, bars.length);
  const barW = Math.max(2, step * 0.68);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", preserveAspectRatio: "none",
    ...(opts.label ? { "aria-label": opts.label } : {}) });
  for (const frac of [0, 0.5, 1]) {
    const y = padTop + plotH * (1 - frac);
    root.append(svg("line", { x1: padLeft, x2: width, y1: y, y2: y, class: "grid" }));
    root.append(svg("text", { x: padLeft - 6, y: y + 4, class: "axis", "text-anchor": "end" }, String(Math.round(niceMax * frac))));
  }
  // About one label per 70 px, never more often than asked.
  const every = Math.max(opts.labelEvery ?? 1, Math.ceil(bars.length / Math.max(2, Math.floor((width - padLeft) / 70))));
  bars.forEach((b, i) => {
    const h = (b.value / niceMax) * plotH;
    const x = padLeft + i * step + (step - barW) / 2;
    const last = opts.highlight === i;
    const rect = svg("rect", {
      x, y: padTop + plotH - h, width: barW, height: Math.max(h, b.value > 0 ? 1.5 : 0), rx: Math.min(3, barW / 3),
      class: `bar${last ? " current" : ""}`,
    });
    rect.append(svg("title", {}, b.title || `${b.label}: ${b.value}`));
    root.append(rect);
    if (i % every === 0) {
      root.append(svg("text", { x: x + barW / 2, y: height - 6, class: "axis", "text-anchor": "middle" }, b.label));
    }
  });
  return root;
}

/** A round axis maximum whose half is a whole number too (the middle grid line is labelled). */
function niceCeil(n: number): number {
  if (n <= 10) return Math.max(2, Math.ceil(n / 2) * 2);
  const pow = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * pow >= n) return m * pow;
  return 10 * pow;
}
