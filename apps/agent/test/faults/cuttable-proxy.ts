import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of the control plane for one agent: a real cut of that agent's path (its
 * connections die and new ones are refused) while the agent and its Docker keep running.
 */
export interface CuttableProxy {
  /** The target's scheme on the proxy's port: TLS passes through (the control plane's certificate names 127.0.0.1). */
  url: string;
  /** With `record`, every byte that went through, both ways (what a capture of the path would see). */
  recorded(): Buffer;
  cut(): Promise<void>;
  heal(): Promise<void>;
  close(): Promise<void>;
}

export async function startCuttableProxy(target: URL, o: { record?: boolean } = {}): Promise<CuttableProxy> {
  const sockets = new Set<Socket>();
  const chunks: Buffer[] = [];
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
      if (o.record) {
        client.on('data', (d: Buffer) => chunks.push(d));
        upstream.on('data', (d: Buffer) => chunks.push(d));
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
    url: `${target.protocol}//127.0.0.1:${port}`,
    recorded: () => Buffer.concat(chunks),
    cut: stop,
    heal: listen,
    close: stop,
  };
}
