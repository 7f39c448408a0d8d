// The probe the binary tests build as a program of its own (test/service/binary.test.ts, and the build without
// optional native add-ons in test/fresh/): every dependency the daemon bundles, run where a bundle breaks. In the
// binary, pdfkit, mailparser, ssh2-sftp-client, imapflow, basic-ftp and fastify load from chunks (SEA_CHUNKS in
// scripts/bundle.js), so this runs each chunk too.

/**
 * Every dependency the daemon bundles, exercised where a bundle breaks: pdfkit's standard fonts and ICC profile
 * (files beside its own module), ssh2 without its native crypto, mailparser's charsets, prom-client, and the rest.
 */
export const PROBE = `
import PDFKit from 'pdfkit';
(async () => {
  const out = {};
  // As the report code has it: an import, which must get the same (CommonJS) pdfkit as require.
  const PDFDocument = PDFKit;
  out.pdfkitOnce = PDFDocument === require('pdfkit');
  const doc = new PDFDocument({ pdfVersion: '1.7', subset: 'PDF/A-1b' });
  const chunks = [];
  doc.on('data', (c) => chunks.push(c));
  const ended = new Promise((r) => doc.on('end', r));
  for (const f of ['Helvetica', 'Helvetica-Bold', 'Times-Roman', 'Courier', 'Symbol', 'ZapfDingbats']) doc.font(f).text('Abc 123');
  doc.end();
  await ended;
  const pdf = Buffer.concat(chunks).toString('latin1');
  out.pdf = pdf.startsWith('%PDF-1.7') && pdf.includes('/BaseFont /Helvetica-Bold') && pdf.includes('/OutputIntents');
  const { simpleParser } = require('mailparser');
  out.mail = (await simpleParser('Subject: =?iso-8859-1?Q?caf=E9?=\\r\\nContent-Type: text/plain; charset=windows-1252\\r\\n\\r\\n\\x80')).subject;
  out.xml = new (require('fast-xml-parser').XMLParser)().parse('<a><b>1</b></a>').a.b;
  const prom = require('prom-client');
  const reg = new prom.Registry();
  new prom.Counter({ name: 'probe_total', help: 'probe', registers: [reg] }).inc(3);
  out.prom = (await reg.metrics()).includes('probe_total 3');
  const ssh2 = require('ssh2');
  // ECDSA: ssh2's ed25519 generator makes 1 key in 256 that its own parser rejects (mscdex/ssh2#1390).
  out.ssh = ssh2.utils.parseKey(ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 }).private).type;
  out.sftp = typeof require('ssh2-sftp-client');
  out.imap = typeof require('imapflow').ImapFlow;
  out.ftp = typeof require('basic-ftp').Client;
  // The console's web framework with a plugin (in the binary, both come from the console's chunk).
  const app = require('fastify')({ logger: false });
  await app.register(require('@fastify/formbody'));
  app.post('/f', async (req) => req.body.a);
  out.web = (await app.inject({ method: 'POST', url: '/f', payload: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).body;
  out.smtp = typeof require('nodemailer').createTransport({ jsonTransport: true }).sendMail;
  const winston = require('winston');
  out.winston = typeof winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] }).info;
  out.luxon = require('luxon').DateTime.fromISO('2026-03-29T02:30', { zone: 'Europe/Berlin' }).isValid;
  out.cron = new (require('croner').Cron)('30 2 * * *', { paused: true }).nextRun() instanceof Date;
  out.yaml = require('yaml').parse('a: [1, 2]').a.length;
  out.glob = require('picomatch')('*.pdf')('a.pdf');
  out.pg = typeof require('pg').Pool;
  out.cursor = typeof require('pg-cursor');
  out.commander = typeof require('commander').Command;
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
`;

/** What PROBE prints when every dependency works. */
export const PROBE_RESULT = {
  pdfkitOnce: true, pdf: true, mail: 'café', xml: 1, prom: true, ssh: 'ecdsa-sha2-nistp256', sftp: 'function', imap: 'function', ftp: 'function', web: '1',
  smtp: 'function', winston: 'function', luxon: true, cron: true, yaml: 2, glob: true, pg: 'function', cursor: 'function',
  commander: 'function',
};
