import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PortalEvent {
  type: string;
  data: Record<string, any>;
}

/**
 * A portal that takes every webhook the service sends it and keeps the events, in order, in
 * `events` (a file's own array, so its specifications can read it from the start).
 */
export async function startPortalReceiver(
  events: PortalEvent[] = [],
): Promise<{ url: string; events: PortalEvent[]; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    let body = '';
    req
      .on('data', (chunk) => (body += chunk))
      .on('end', () => {
        events.push(JSON.parse(body));
        res.end('ok');
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    events,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
