import net from 'node:net';
import { startSmtp, type TestSmtp } from '../support/smtp';
import { waitFor } from '../support/wait';

// The fault tests (SIGKILL, SIGTERM, a lost database) hold a message at the end of DATA, see its end at a proxy in
// front of the server, then tell the server to forget it. The proxy can see the end before the server does; the
// server must still forget that message, or a test of "sent exactly once" counts the dead daemon's copy.

let smtp: TestSmtp;
let session: Awaited<ReturnType<typeof openSession>> | null = null;
afterEach(async () => {
  session?.socket.destroy();
  session = null;
  smtp.dropStalled();
  await smtp.close();
});

/** A raw SMTP client on loopback: each step writes a line and waits for the server's reply code. */
async function openSession(port: number): Promise<{ send(line: string, code?: string): Promise<void>; write(s: string): void; socket: net.Socket }> {
  const socket = net.connect(port, '127.0.0.1');
  let buffered = '';
  const waiting: Array<{ code: string; resolve: () => void; reject: (e: Error) => void }> = [];
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    buffered += d;
    for (;;) {
      const m = /^(\d{3}) .*\r\n/m.exec(buffered);
      if (!m) break;
      buffered = buffered.slice(m.index + m[0].length);
      const w = waiting.shift();
      if (!w) continue;
      if (m[1] === w.code) w.resolve();
      else w.reject(new Error(`expected ${w.code}, got ${m[0].trim()}`));
    }
  });
  const reply = (code: string): Promise<void> => new Promise((resolve, reject) => waiting.push({ code, resolve, reject }));
  await reply('220');
  return {
    socket,
    write: (s) => void socket.write(s),
    send: async (line, code = '250') => {
      const r = reply(code);
      socket.write(`${line}\r\n`);
      await r;
    },
  };
}

/** A server in stall mode and a session that has sent a message up to, not including, the end of its DATA. */
async function stalledBeforeEndOfData(): Promise<NonNullable<typeof session>> {
  smtp = await startSmtp();
  smtp.mode = 'stall';
  const s = await openSession(smtp.port);
  session = s;
  await s.send('EHLO client.test');
  await s.send('MAIL FROM:<a@example.com>');
  await s.send('RCPT TO:<b@example.com>');
  await s.send('DATA', '354');
  s.write('Subject: held\r\n\r\nbody');
  return s;
}

it('forgets a message whose DATA began while stalling even when its end arrives after dropStalled()', async () => {
  const s = await stalledBeforeEndOfData();
  smtp.dropStalled();
  s.write('\r\n.\r\n');
  await waitFor('the end of DATA at the server', () => smtp.ended === 1);
  expect(smtp.held).toBe(0);
  expect(smtp.messages).toHaveLength(0);
});

it('accepts a message whose DATA began while stalling when release() came before its end', async () => {
  const s = await stalledBeforeEndOfData();
  smtp.release();
  await s.send('\r\n.', '250');
  expect(smtp.messages.map((m) => m.parsed.subject)).toEqual(['held']);
});

it('holds a whole message while stalling and lets it through on release()', async () => {
  const s = await stalledBeforeEndOfData();
  const accepted = s.send('\r\n.', '250');
  await waitFor('the message held', () => smtp.held === 1);
  expect(smtp.messages).toHaveLength(0);
  smtp.release();
  await accepted;
  expect(smtp.held).toBe(0);
  expect(smtp.messages).toHaveLength(1);
});
