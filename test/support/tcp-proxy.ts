// A TCP proxy a test can cut and restore: every connection through it is forwarded to the target; stop()
// drops them all and refuses new ones (as a server that went away), start() listens again on the same port
// (as the server coming back). For fault tests of clients that must recover by themselves.
import { once } from 'node:events';
import net from 'node:net';

export interface TcpProxy {
  /** The local port, the same across stop() and start(). */
  readonly port: number;
  /** Listens again (after stop()). */
  start(): Promise<void>;
  /** Destroys every open connection and stops listening: new connections are refused. */
  stop(): Promise<void>;
}

export async function tcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;

  const forward = (client: net.Socket): void => {
    const upstream = net.connect(target.port, target.host);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    sockets.add(client);
    sockets.add(upstream);
    for (const socket of [client, upstream]) socket.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  };

  const proxy: TcpProxy = {
    get port() {
      return port;
    },
    async start() {
      if (server) return;
      const listening = net.createServer(forward);
      listening.listen(port, '127.0.0.1');
      await once(listening, 'listening');
      port = (listening.address() as net.AddressInfo).port;
      server = listening;
    },
    async stop() {
      const stopping = server;
      server = undefined;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      if (stopping) await new Promise<void>((resolve) => stopping.close(() => resolve()));
    },
  };
  await proxy.start();
  return proxy;
}
