/**
 * The standalone binary's main script leaves the lazily loaded libraries (SEA_CHUNKS in scripts/bundle.js) to
 * scripts of their own, kept as SEA assets until required: an idle daemon holds only the main script in memory.
 * Each chunk working inside a binary is checked by the dependency probe (test/service/binary.test.ts); here, what
 * the build makes, and that it refuses a main script that would still carry a chunked package.
 */
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../support/tempDirs';

interface Chunk {
  name: string;
  file: string;
  asset: string;
}
const { bundle } = require('../../scripts/bundle') as {
  bundle(o: { outfile: string; sea?: boolean; entry?: string }): Promise<{ outfile: string; bytes: number; chunks: Chunk[] }>;
};

/** Some chunked packages, by the chunk that carries them. */
const CHUNK_OF: Record<string, string> = {
  fastify: 'console', '@fastify/session': 'console', pdfkit: 'pdf', fontkit: 'pdf', imapflow: 'imap', mailparser: 'mailparser',
  'ssh2-sftp-client': 'sftp', 'basic-ftp': 'ftp',
};

describe('the binary\'s main script and its chunks', () => {
  it('requires each chunked package through a stub that loads its chunk, and carries none of their code', async () => {
    const dir = tempDir('xtconnect-sea-chunks-');
    const entry = Object.keys(CHUNK_OF).map((p) => `require(${JSON.stringify(p)});`).join('\n');
    const r = await bundle({ outfile: path.join(dir, 'main.js'), sea: true, entry });
    expect(r.chunks.map((c) => c.name).sort()).toEqual(['console', 'ftp', 'imap', 'mailparser', 'pdf', 'sftp']);
    const main = fs.readFileSync(r.outfile, 'utf8');
    for (const [p, chunk] of Object.entries(CHUNK_OF)) expect(main).toContain(`(${JSON.stringify(`chunks/${chunk}.js`)},${JSON.stringify(p)})`);
    // Code each package is known by: imapflow's error codes, mailparser's simpleParser, pdfkit's PDFDocument.
    for (const mark of ['ImapFlowErrorCode', 'simpleParser', 'PDFDocument', 'FTPContext']) {
      expect({ mark, inMain: main.includes(mark) }).toEqual({ mark, inMain: false });
      expect({ mark, inAChunk: r.chunks.some((c) => fs.readFileSync(c.file, 'utf8').includes(mark)) }).toEqual({ mark, inAChunk: true });
    }
    for (const c of r.chunks) expect(c.asset).toBe(`chunks/${c.name}.js`);
  }, 60_000);

  it('refuses to build a main script that reaches into a chunked package by a deep path', async () => {
    const dir = tempDir('xtconnect-sea-chunks-');
    await expect(bundle({ outfile: path.join(dir, 'main.js'), sea: true, entry: "require('imapflow/lib/tools');\n" }))
      .rejects.toThrow(/still carries imapflow.*SEA_CHUNKS/);
  }, 60_000);
});
