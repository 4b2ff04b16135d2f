/** Client-side routes under /app/: the inbox, one conversation, the statistics page, the first-run checklist
 * and the settings (/app/settings/<section>). */
import { Emitter } from "../shared/emitter";

export type Route = { name: "inbox" } | { name: "conversation"; id: string } | { name: "stats" } | { name: "setup" }
  | { name: "settings"; section: string };

const ID = /^[A-Za-z0-9_-]{1,64}$/;

export function parse(pathname: string, search = ""): Route {
  // Links in emails and push notifications: /app/?conversation=<id>
  const linked = new URLSearchParams(search).get("conversation");
  if (linked && ID.test(linked)) return { name: "conversation", id: linked };
  const path = pathname.replace(/^\/app\/?/, "").replace(/\/$/, "");
  if (path === "stats") return { name: "stats" };
  if (path === "setup") return { name: "setup" };
  const s = path.match(/^settings(?:\/([a-z-]{1,20}))?$/);
  if (s) return { name: "settings", section: s[1] || "" };
  const m = path.match(/^c\/([A-Za-z0-9_-]{1,64})$/);
  if (m) return { name: "conversation", id: m[1] };
  return { name: "inbox" };
}

export function href(route: Route): string {
  if (route.name === "stats") return "/app/stats";
  if (route.name === "setup") return "/app/setup";
  if (route.name === "settings") return route.section ? `/app/settings/${route.section}` : "/app/settings";
  if (route.name === "conversation") return `/app/c/${encodeURIComponent(route.id)}`;
  return "/app/";
}

const routes = new Emitter<{ route: [route: Route] }>();

export function current(): Route {
  const route = parse(location.pathname, location.search);
  // Show the canonical address (/app/c/<id>) for a ?conversation= link.
  if (location.search && href(route) !== location.pathname) history.replaceState(null, "", href(route));
  return route;
}

export function navigate(route: Route, replace = false): void {
  const url = href(route);
  if (url !== location.pathname) {
    if (replace) history.replaceState(null, "", url);
    else history.pushState(null, "", url);
  }
  routes.emit("route", route);
}

export function onRoute(fn: (route: Route) => void): void {
  routes.on("route", fn);
}

window.addEventListener("popstate", () => routes.emit("route", current()));
