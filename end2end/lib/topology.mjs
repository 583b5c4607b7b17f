// The local topology the runner starts (as scripts/run.sh does): Traefik on one port in
// front of the server and odoo-sim, routing by host name. Chromium resolves every
// *.localhost to loopback, so pages open http://<host>.localhost:<TRAEFIK_PORT>/… directly.
export const TRAEFIK_PORT = process.env.TRAEFIK_PORT ?? '8000';
/** http://localhost:<port>: the apex (owners' pages). */
export const TRAEFIK_URL = process.env.TRAEFIK_URL ?? `http://localhost:${TRAEFIK_PORT}`;

/** `http://<label>.localhost:<port><path>`: a tenant's host, or `admin` for the portal. */
export function hostUrl(label, path = '/') {
  return `http://${label}.localhost:${TRAEFIK_PORT}${path}`;
}
