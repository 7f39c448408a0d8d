import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { renderReference, renderSample } from '../../src/config/reference';

const root = path.resolve(__dirname, '..', '..');

// The reference and the sample file are generated from the schema; a key added to the schema without
// `npm run docs:config` fails here, so the documentation cannot drift from what the program accepts.
describe('generated configuration documents', () => {
  it('docs/configuration.md is the schema\'s reference (run npm run docs:config)', () => {
    expect(fs.readFileSync(path.join(root, 'docs', 'configuration.md'), 'utf8')).toBe(renderReference());
  });

  it('xtconnect.example.yaml is the schema\'s sample (run npm run docs:config)', () => {
    expect(fs.readFileSync(path.join(root, 'xtconnect.example.yaml'), 'utf8')).toBe(renderSample());
  });

  it('the sample file loads and gives every default', () => {
    const cfg = loadConfig({ config: path.join(root, 'xtconnect.example.yaml') }, { HOME: '/home/erp' });
    const none = loadConfig({}, { HOME: '/home/erp', XTCONNECT_CONFIG: '' });
    expect({ ...cfg, source: '' }).toEqual({ ...none, source: '' });
  });

  it('documents every key of every section', () => {
    const doc = renderReference();
    for (const key of ['database.url', 'daemon.retryPeriod', 'smtp.tls.caPath', 'console.listen', 'mailboxes[].folders',
      'endpoints[].hostKey.fingerprint', 'log.level', 'status.maxFailures24h', 'reports.queryTimeoutSeconds']) {
      expect(doc).toContain(`\`${key}\``);
    }
  });
});
