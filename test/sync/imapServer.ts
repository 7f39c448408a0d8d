import net from 'node:net';

/** The parts of hoodiecrow-imap (an in-memory IMAP server, untyped) that the tests use. */
interface HoodieMessage {
  uid: number;
  flags: string[];
  raw: string;
}
interface HoodieFolder {
  uidvalidity: number;
  uidnext: number;
  messages: HoodieMessage[];
}
interface Hoodiecrow {
  server: net.Server;
  getMailbox(path: string): HoodieFolder | undefined;
  appendMessage(folder: string, flags: string[], internaldate: Date, raw: string): { message: HoodieMessage };
}
type HoodiecrowFactory = (options: Record<string, unknown>) => Hoodiecrow;
// require, not import: the package has no type declarations; the interfaces above are the part the tests use.
const hoodiecrow = require('hoodiecrow-imap') as HoodiecrowFactory;

export const IMAP_USER = 'sync@example.net';
export const IMAP_PASSWORD = 'imap-secret';

export interface TestImap {
  port: number;
  /** Adds a message to a folder (bytes kept exactly) and returns its UID. */
  add(folder: string, raw: Buffer | string, flags?: string[]): number;
  /** The folder's messages now: UID, flags and bytes. */
  list(folder: string): Array<{ uid: number; flags: string[]; raw: Buffer }>;
  /** The server renumbers the folder (a rebuilt mailbox): new UIDVALIDITY, UIDs from 1 again. */
  renumber(folder: string, uidValidity: number): void;
  /** Stops listening and drops every connection (the server went down). */
  stop(): Promise<void>;
  /** Listens again on the same port with the same mail (the server came back). */
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real IMAP server on 127.0.0.1 (hoodiecrow-imap, in memory) with INBOX and the given extra folders, the MOVE and
 * UIDPLUS extensions, and one user. Message bytes are kept as latin1 strings, which hoodiecrow sends byte for byte.
 */
export async function startImap(opts: { folders?: string[]; uidValidity?: number; tls?: { key: string; cert: string } } = {}): Promise<TestImap> {
  const folders: Record<string, unknown> = {};
  for (const f of opts.folders ?? []) folders[f] = {};
  const server = hoodiecrow({
    plugins: ['ID', 'ENABLE', 'UIDPLUS', 'MOVE', 'LITERALPLUS', 'UNSELECT'],
    users: { [IMAP_USER]: { password: IMAP_PASSWORD } },
    storage: { INBOX: { uidvalidity: opts.uidValidity ?? 1000 }, '': { separator: '/', folders } },
    // TLS from the first byte (imaps) with the test's certificate.
    ...(opts.tls ? { secureConnection: true, credentials: { key: opts.tls.key, cert: opts.tls.cert } } : {}),
  });
  const sockets = new Set<net.Socket>();
  server.server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  let port = 0;
  let listening = false;
  const listen = async (): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.server.listen(port, '127.0.0.1', () => {
        server.server.off('error', reject);
        resolve();
      });
    });
    port = (server.server.address() as net.AddressInfo).port;
    listening = true;
  };
  const folder = (name: string): HoodieFolder => {
    const f = server.getMailbox(name);
    if (!f) throw new Error(`test IMAP server has no folder ${name}`);
    return f;
  };
  const stop = async (): Promise<void> => {
    if (!listening) return;
    listening = false;
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.server.close(() => resolve()));
  };
  await listen();
  return {
    get port() {
      return port;
    },
    add(name, raw, flags = []) {
      const text = Buffer.isBuffer(raw) ? raw.toString('latin1') : raw;
      return server.appendMessage(name, flags, new Date(), text).message.uid;
    },
    list(name) {
      return folder(name).messages.map((m) => ({ uid: m.uid, flags: [...m.flags], raw: Buffer.from(m.raw, 'latin1') }));
    },
    renumber(name, uidValidity) {
      const f = folder(name);
      f.uidvalidity = uidValidity;
      f.messages.forEach((m, i) => {
        m.uid = i + 1;
      });
      f.uidnext = f.messages.length + 1;
    },
    stop,
    start: listen,
    close: stop,
  };
}
