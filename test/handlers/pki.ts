/**
 * A private CA and server certificates made with the openssl command, for TLS tests against real servers on
 * loopback: a certificate the CA signed, one for another host name, one that expired in 2020, and the chain a
 * server sends when it includes its (untrusted) root.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../support/tempDirs';

export interface ServerCert {
  key: string;
  /** The leaf alone (PEM). */
  cert: string;
  /** Leaf then the CA's certificate, as a server configured with its full chain sends it. */
  chain: string;
}

export interface TestPki {
  dir: string;
  /** The CA certificate's file: what tls.caPath points at. */
  caPath: string;
  /** Signed by the CA for 127.0.0.1 and localhost. */
  good: ServerCert;
  /** Signed by the CA for mail.other.example only. */
  otherName: ServerCert;
  /** Signed by the CA for 127.0.0.1, valid only on 1 January 2020. */
  expired: ServerCert;
  /** A self-signed certificate for 127.0.0.1 that no CA vouches for. */
  selfSigned: ServerCert;
}

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args[0]} failed (is openssl installed?): ${e.stderr?.toString() || e.message}`);
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export function makePki(): TestPki {
  const dir = tempDir('xtc-pki-');
  fs.writeFileSync(path.join(dir, 'ca.cnf'), [
    '[ca]', 'default_ca = testca', '[testca]', 'dir = .', 'database = ./index.txt', 'new_certs_dir = .', 'serial = ./serial',
    'default_md = sha256', 'policy = anything', 'copy_extensions = copy', 'unique_subject = no', '[anything]', 'commonName = supplied', '',
  ].join('\n'));
  fs.writeFileSync(path.join(dir, 'index.txt'), '');
  fs.writeFileSync(path.join(dir, 'serial'), '01\n');
  openssl(dir, ['req', '-x509', ...EC, '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=xtconnect test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const ca = fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8');
  const leaf = (name: string, san: string, dates: string[]): ServerCert => {
    openssl(dir, ['req', ...EC, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`]);
    openssl(dir, ['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca-key.pem', '-in', `${name}.csr`,
      '-out', `${name}.pem`, '-notext', ...dates]);
    const cert = fs.readFileSync(path.join(dir, `${name}.pem`), 'utf8');
    return { key: fs.readFileSync(path.join(dir, `${name}-key.pem`), 'utf8'), cert, chain: cert + ca };
  };
  openssl(dir, ['req', '-x509', ...EC, '-keyout', 'self-key.pem', '-out', 'self.pem', '-days', '2', '-subj', '/CN=self',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
  const self = fs.readFileSync(path.join(dir, 'self.pem'), 'utf8');
  return {
    dir,
    caPath: path.join(dir, 'ca.pem'),
    good: leaf('good', 'IP:127.0.0.1,DNS:localhost', ['-days', '2']),
    otherName: leaf('other', 'DNS:mail.other.example', ['-days', '2']),
    expired: leaf('expired', 'IP:127.0.0.1,DNS:localhost', ['-startdate', '20200101000000Z', '-enddate', '20200102000000Z']),
    selfSigned: { key: fs.readFileSync(path.join(dir, 'self-key.pem'), 'utf8'), cert: self, chain: self },
  };
}
