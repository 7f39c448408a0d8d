/**
 * The email bench's real Postfix (BENCH_EMAIL_SERVER=postfix), set up by bench/postfix-setup.sh: STARTTLS and AUTH
 * required, each message queued to disk and then discarded. What arrived is read from Postfix's own log: its
 * header_checks rule logs every message's X-xtconnect-Batch-Id, smtpd logs each connection, qmgr each message's size.
 * Its CPU is that of the Postfix and Dovecot processes alive when the counts are read (/proc).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type { Sink, SinkCounts } from './smtpSink';
import { processesCpuMs } from './cpu';
import { sleep } from './util';

const PORT = Number(process.env.BENCH_POSTFIX_PORT ?? 2525);
if (!Number.isInteger(PORT) || PORT < 1 || PORT > 65535) throw new Error(`BENCH_POSTFIX_PORT: a port number, not ${process.env.BENCH_POSTFIX_PORT}`);
const LOG = process.env.BENCH_POSTFIX_LOG ?? '/var/log/postfix-xtc-bench.log';
const CA = '/etc/xtconnect-bench/postfix-cert.pem';

const isMailServer = (exe: string) => exe.startsWith('/usr/lib/postfix/sbin/') || exe.startsWith('/usr/lib/dovecot/') || exe === '/usr/sbin/dovecot';

const HEADER = /: info: header X-xtconnect-Batch-Id: (\S+) from /i;
const CONNECT = /postfix\/smtpd\[\d+\]: connect from /;
const SIZE = /postfix\/qmgr\[\d+\]: \w+: from=<[^>]*>, size=(\d+),/;

function countLog(text: string): SinkCounts {
  const counts: SinkCounts = { byId: {}, total: 0, insecure: 0, unnamed: 0, cpuMs: 0, connections: 0, bytes: 0 };
  let sized = 0;
  for (const line of text.split('\n')) {
    let m = HEADER.exec(line);
    if (m) {
      counts.byId[m[1]!] = (counts.byId[m[1]!] ?? 0) + 1;
      counts.total++;
      continue;
    }
    if (CONNECT.test(line)) counts.connections++;
    else if ((m = SIZE.exec(line))) {
      counts.bytes += Number(m[1]);
      sized++;
    }
  }
  // Every queued message has a size line; one without the header line came without a batch id.
  counts.unnamed = Math.max(0, sized - counts.total);
  return counts;
}

/**
 * The setup script's Postfix, checked to refuse mail without STARTTLS and without a login before it is used; `login`
 * is the bench's account (the one bench/postfix-setup.sh gives Dovecot).
 */
export async function postfixServer(login: { user: string; pass: string }): Promise<Sink> {
  if (!fs.existsSync(CA) || !fs.existsSync(LOG)) {
    throw new Error(`BENCH_EMAIL_SERVER=postfix: no bench Postfix here (${CA}, ${LOG}); run bench/postfix-setup.sh as root first`);
  }
  await refusesInsecureMail(login);
  let offset = fs.statSync(LOG).size;
  let cpu0 = processesCpuMs(isMailServer);
  const read = () => {
    const size = fs.statSync(LOG).size;
    const fd = fs.openSync(LOG, 'r');
    try {
      const buf = Buffer.alloc(Math.max(0, size - offset));
      fs.readSync(fd, buf, 0, buf.length, offset);
      return buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  };
  const cpuSince = () => {
    let ms = 0;
    for (const [pid, now] of processesCpuMs(isMailServer)) ms += now - (cpu0.get(pid) ?? 0);
    return ms;
  };
  // postlogd writes the log a moment after the message is accepted: read until two readings 200 ms apart agree.
  const counts = async (): Promise<SinkCounts> => {
    let last = -1;
    for (let i = 0; i < 50; i++) {
      const c = countLog(read());
      if (c.total === last) return { ...c, cpuMs: cpuSince() };
      last = c.total;
      await sleep(200);
    }
    return { ...countLog(read()), cpuMs: cpuSince() };
  };
  return {
    port: PORT,
    certPath: CA,
    name: `Postfix ${postfixVersion()} (bench/postfix-setup.sh: queued to disk, then discarded)`,
    counts,
    reset: async () => {
      await counts(); // let the last run's lines land before the mark
      offset = fs.statSync(LOG).size;
      cpu0 = processesCpuMs(isMailServer);
      return countLog('');
    },
    stop: () => undefined, // the machine's service; left running
  };
}

function postfixVersion(): string {
  try {
    return /mail_version = (\S+)/.exec(execFileSync('postconf', ['mail_version'], { encoding: 'utf8' }))?.[1] ?? '?';
  } catch {
    return '?';
  }
}

/** A message without STARTTLS, and one with STARTTLS but no login, must both be refused. */
async function refusesInsecureMail(login: { user: string; pass: string }): Promise<void> {
  const nodemailer = require('nodemailer') as typeof import('nodemailer');
  const msg = { from: 'erp@ourco.example', to: 'check@customer.example', subject: 'must be refused', text: 'x' };
  const tries: Array<[string, Parameters<typeof nodemailer.createTransport>[0]]> = [
    ['without STARTTLS', { host: '127.0.0.1', port: PORT, secure: false, ignoreTLS: true, auth: login }],
    ['without a login', { host: '127.0.0.1', port: PORT, secure: false, requireTLS: true, tls: { ca: fs.readFileSync(CA) } }],
  ];
  for (const [what, opts] of tries) {
    const t = nodemailer.createTransport(opts);
    const accepted = await t.sendMail(msg).then(() => true, () => false);
    t.close();
    if (accepted) throw new Error(`the bench Postfix accepted a message ${what}; run bench/postfix-setup.sh again`);
  }
}
