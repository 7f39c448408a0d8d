import net from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';

export interface Received {
  envelope: { from: string; to: string[] };
  raw: Buffer;
  parsed: ParsedMail;
  user?: string;
}

/**
 * What the server does with the next message:
 * accept; reject (550, permanent); tempfail (451); stall (hold DATA until release() is called, then accept).
 */
export type SmtpMode = 'accept' | 'reject' | 'tempfail' | 'stall';

export interface TestSmtp {
  port: number;
  messages: Received[];
  mode: SmtpMode;
  /** Recipients refused at RCPT TO with 550. */
  rejectRecipients: Set<string>;
  /** Messages held unanswered right now (stall mode, whole message received). */
  readonly held: number;
  /** Messages whose end of DATA has reached the server, whatever became of them. */
  readonly ended: number;
  /** Lets stalled messages through, also those whose DATA began while stalling and whose end arrives later. */
  release(): void;
  /**
   * Forgets stalled messages without accepting them (their sender died) and accepts from now on. A message whose
   * DATA began while stalling is forgotten even when its last bytes reach the server after this call: the test
   * may see the end of DATA at its proxy before the server does.
   */
  dropStalled(): void;
  /** Resolves when at least n messages have arrived. */
  waitForMessages(n: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
  /** Starts listening again on the same port after close() (the mail server came back). */
  restart(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A real SMTP server (smtp-server) on loopback. With `auth`, it requires that user and password. */
export async function startSmtp(opts: { port?: number; auth?: { user: string; pass: string }; echoRefusedLogin?: boolean } = {}): Promise<TestSmtp> {
  const port = opts.port ?? (await freePort());
  let server: SMTPServer | null = null;
  let releaseStalled: Array<() => void> = [];
  // Each stretch of stall mode is an epoch that ends in release() or dropStalled(); a message belongs to the epoch
  // in which its DATA began, so its fate does not depend on when its last bytes arrive.
  let epoch = 0;
  let ended = 0;
  const epochEnd = new Map<number, 'release' | 'drop'>();
  const waiters: Array<{ n: number; resolve: (m: Received[]) => void }> = [];
  const t: TestSmtp = {
    port,
    messages: [],
    mode: 'accept',
    rejectRecipients: new Set(),
    get held() {
      return releaseStalled.length;
    },
    get ended() {
      return ended;
    },
    release() {
      const r = releaseStalled;
      releaseStalled = [];
      epochEnd.set(epoch++, 'release');
      t.mode = 'accept';
      for (const f of r) f();
    },
    dropStalled() {
      releaseStalled = [];
      epochEnd.set(epoch++, 'drop');
      t.mode = 'accept';
    },
    waitForMessages(n, timeoutMs = 15_000) {
      if (t.messages.length >= n) return Promise.resolve(t.messages);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`SMTP server got ${t.messages.length} message(s), wanted ${n}`)), timeoutMs);
        waiters.push({ n, resolve: (m) => { clearTimeout(timer); resolve(m); } });
      });
    },
    async close() {
      const s = server;
      server = null;
      if (!s) return;
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    async restart() {
      await listen();
    },
  };

  const options: SMTPServerOptions = {
    secure: false,
    disabledCommands: opts.auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !opts.auth,
    allowInsecureAuth: true,
    logger: false,
    // close() waits this long for clients (the daemon's pooled connections) to leave; 30 s by default.
    closeTimeout: 500,
    onAuth(auth, _session, cb) {
      if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.pass) return cb(null, { user: auth.username });
      // echoRefusedLogin: as a careless server might, the refusal quotes the password and its base64 form.
      const err = new Error(opts.echoRefusedLogin
        ? `Invalid password "${auth.password}" (${Buffer.from(auth.password ?? '').toString('base64')}) for ${auth.username}`
        : 'Invalid username or password') as Error & { responseCode: number };
      err.responseCode = 535;
      return cb(err);
    },
    onRcptTo(address, _session, cb) {
      if (t.rejectRecipients.has(address.address)) {
        const err = new Error(`5.1.1 <${address.address}>: user unknown`) as Error & { responseCode: number };
        err.responseCode = 550;
        return cb(err);
      }
      cb();
    },
    onData(stream, session, cb) {
      const stalledIn = t.mode === 'stall' ? epoch : null;
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        ended += 1;
        const finish = async () => {
          if (t.mode === 'reject') {
            const err = new Error('5.7.1 message refused by policy') as Error & { responseCode: number };
            err.responseCode = 550;
            return cb(err);
          }
          if (t.mode === 'tempfail') {
            const err = new Error('4.3.0 try again later') as Error & { responseCode: number };
            err.responseCode = 451;
            return cb(err);
          }
          const raw = Buffer.concat(chunks);
          const parsed = await simpleParser(raw);
          t.messages.push({
            envelope: {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
            },
            raw,
            parsed,
            user: session.user as string | undefined,
          });
          for (const w of waiters.splice(0)) {
            if (t.messages.length >= w.n) w.resolve(t.messages);
            else waiters.push(w);
          }
          cb();
        };
        if (stalledIn === null) return void finish();
        const end = epochEnd.get(stalledIn);
        if (end === 'release') void finish();
        else if (end === undefined) releaseStalled.push(() => void finish());
        // 'drop': its sender is gone; never answered.
      });
    },
  };

  async function listen(): Promise<void> {
    const s = new SMTPServer(options);
    s.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      s.listen(port, '127.0.0.1', () => resolve());
      s.once('error', reject);
    });
    server = s;
  }
  await listen();
  return t;
}
