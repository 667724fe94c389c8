/** `host:port` or `[v6]:port`: the one shape of every listen address in ferry's configs. */
export const LISTEN_RE = /^(?:\[([0-9a-fA-F:]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;

/** Splits a listen address (already validated by the config schema) into host and port. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = LISTEN_RE.exec(listen);
  if (!m) throw new Error(`invalid listen address ${JSON.stringify(listen)}: expected host:port`);
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port: Number(m[3]) };
}
