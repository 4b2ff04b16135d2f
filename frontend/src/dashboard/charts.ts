/** Hand-drawn SVG bar charts for the statistics page. */
import { svg } from "./dom";

export interface Bar {
  label: string;
  value: number;
  title?: string;
}

/** A responsive bar chart: bars share the width, a few labels avoid clutter, values show on hover. */
export function barChart(bars: Bar[], opts: { height?: number; labelEvery?: number; highlight?: number } = {}): SVGElement {
  const height = opts.height ?? 180;
  const width = 640;
  const padTop = 12;
  const padBottom = 22;
  const padLeft = 30;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const niceMax = niceCeil(max);
  const plotH = height - padTop - padBottom;
  const step = (width - padLeft) / Math.max(1, bars.length);
  const barW = Math.max(2, step * 0.68);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", preserveAspectRatio: "none" });
  for (const frac of [0, 0.5, 1]) {
    const y = padTop + plotH * (1 - frac);
    root.append(svg("line", { x1: padLeft, x2: width, y1: y, y2: y, class: "grid" }));
    root.append(svg("text", { x: padLeft - 6, y: y + 4, class: "axis", "text-anchor": "end" }, String(Math.round(niceMax * frac))));
  }
  const every = opts.labelEvery ?? Math.ceil(bars.length / 8);
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
