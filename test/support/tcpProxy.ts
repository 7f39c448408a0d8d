import net from 'node:net';

export interface TcpProxy {
  /** The loopback port to connect to instead of the target's. */
  readonly port: number;
  /** Connections open through the proxy right now (until their upstream side has closed). */
  readonly open: number;
  /** Connections accepted and forwarded since the proxy started. */
  readonly forwarded: number;
  /** Connections refused while cut. */
  readonly refused: number;
  readonly isCut: boolean;
  /** Whether the proxy is dropping everything silently (blackhole()). */
  readonly isBlackholed: boolean;
  /** `url` with its host and port replaced by the proxy's (for a postgresql:// connection string). */
  url(url: string): string;
  /** Everything clients have sent upstream so far, as latin1 text (only with `capture: true`). */
  clientText(): string;
  /**
   * The network fails: every open connection is reset (both sides), and connections made while cut are reset as
   * soon as they are accepted. Resolves when every connection is closed.
   */
  cut(): Promise<void>;
  /**
   * The network drops everything without a word (a partition, a firewall that drops, a dead NAT entry): bytes in
   * flight either way are read and thrown away, new connections are accepted and never forwarded, nothing is reset,
   * so the client learns of it only by waiting. restore() resets the connections this stalled (their lost bytes
   * broke them, as TCP would end them once its retransmissions time out) and forwards new ones again.
   */
  blackhole(): void;
  /** The network is back: new connections are forwarded again. */
  restore(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 in front of `target`, that a test can cut and restore to play a network failure
 * between a process and its server (PostgreSQL, SMTP) without touching the server itself.
 */
export async function startTcpProxy(target: { host: string; port: number }, opts: { capture?: boolean } = {}): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  /** Client side → upstream side of each forwarded connection. */
  const pairs = new Map<net.Socket, net.Socket>();
  /** Connections the blackhole swallowed, reset by restore(). */
  const stalled = new Set<net.Socket>();
  const discard = (): void => undefined;
  const captured: Buffer[] = [];
  let cut = false;
  let hole = false;
  let forwarded = 0;
  let refused = 0;

  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  const reset = (s: net.Socket): void => {
    if (!s.destroyed) s.resetAndDestroy();
  };

  const server = net.createServer((client) => {
    client.on('error', () => undefined);
    if (cut) {
      refused++;
      reset(client);
      return;
    }
    if (hole) {
      // Accepted, as the kernel would, but never answered.
      track(client);
      stalled.add(client);
      client.on('data', discard);
      return;
    }
    forwarded++;
    track(client);
    const upstream = net.connect({ host: target.host, port: target.port });
    upstream.on('error', () => undefined);
    track(upstream);
    pairs.set(client, upstream);
    // One side failing ends the other: what a client sees when the network between it and the server fails.
    client.once('close', () => reset(upstream));
    upstream.once('close', () => reset(client));
    upstream.once('close', () => pairs.delete(client));
    if (opts.capture) client.on('data', (b: Buffer) => captured.push(b));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  const closeAll = async (): Promise<void> => {
    const all = [...sockets];
    await Promise.all(
      all.map((s) => new Promise<void>((resolve) => {
        if (s.closed) return resolve();
        s.once('close', () => resolve());
        reset(s);
      })),
    );
  };

  return {
    port,
    get open() {
      return pairs.size;
    },
    get forwarded() {
      return forwarded;
    },
    get refused() {
      return refused;
    },
    get isCut() {
      return cut;
    },
    get isBlackholed() {
      return hole;
    },
    url(u: string) {
      const parsed = new URL(u);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(port);
      return parsed.toString();
    },
    clientText: () => Buffer.concat(captured).toString('latin1'),
    async cut() {
      cut = true;
      await closeAll();
    },
    blackhole() {
      hole = true;
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.on('data', discard);
        upstream.on('data', discard);
        stalled.add(client);
      }
    },
    restore() {
      cut = false;
      if (hole) {
        hole = false;
        for (const s of stalled) reset(s);
        stalled.clear();
      }
    },
    async close() {
      cut = true;
      await closeAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
