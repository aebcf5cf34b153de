import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of the control plane for one agent: a real cut of that agent's path (its
 * connections die and new ones are refused) while the agent and its Docker keep running.
 */
export interface CuttableProxy {
  url: string;
  cut(): Promise<void>;
  heal(): Promise<void>;
  close(): Promise<void>;
}

export async function startCuttableProxy(target: URL): Promise<CuttableProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = async () => {
    const s = createServer((client) => {
      const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
      for (const sock of [client, upstream]) {
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
        sock.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
    const address = s.address();
    if (address && typeof address === 'object') port = address.port;
    server = s;
  };
  const stop = async () => {
    for (const sock of sockets) sock.destroy();
    sockets.clear();
    const s = server;
    server = undefined;
    if (s) await new Promise((resolve) => s.close(resolve));
  };
  await listen();
  return {
    url: `http://127.0.0.1:${port}`,
    cut: stop,
    heal: listen,
    close: stop,
  };
}
