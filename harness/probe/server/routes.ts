// Per-path status codes of the HTTP echo server (`--route /path=STATUS`).
export interface Route {
  /** Exact path, or a prefix when it ends in `*`. */
  path: string;
  status: number;
}

/** `/path=STATUS` as given on the command line. */
export function parseRoute(text: string): Route {
  const m = /^(\/[^=\s]*)=(\d{3})$/.exec(text);
  const status = m?.[2] ? Number(m[2]) : NaN;
  if (!m?.[1] || status < 100 || status > 599) {
    throw new Error(`--route: expected /path=STATUS with a status from 100 to 599, got ${JSON.stringify(text)}`);
  }
  return { path: m[1], status };
}

export function statusFor(routes: readonly Route[], path: string): number {
  for (const r of routes) {
    if (r.path.endsWith("*") ? path.startsWith(r.path.slice(0, -1)) : path === r.path) return r.status;
  }
  return 200;
}
