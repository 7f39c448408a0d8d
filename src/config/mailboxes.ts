import { redactSecrets } from '../secrets';
import { isHostName } from './fields';
import { mailboxEnvVar, type Mailbox } from '../sync/mailboxes';
import type { Problems } from './collect';
import type { MailboxEntry } from './schema';

/** An RFC 3501 flag (\Seen) or keyword ($Imported, xtImported): atoms without the specials. */
const FLAG = /^(\\[A-Za-z]+|[^\s()\]{%*"\\\x00-\x1f\x7f]+)$/;
const DEFAULT_FLAG = '$XtImported';
const DEFAULT_PORT = { tls: 993, starttls: 143, none: 143 } as const;

/**
 * The `mailboxes:` entries as the EmailSync action uses them, with the rules that join keys or read the
 * environment: XTCONNECT_MAILBOX_<NAME>_PASSWORD / _ACCESSTOKEN win over the file.
 */
export function buildMailboxes(entries: MailboxEntry[], env: NodeJS.ProcessEnv, problems: Problems): Mailbox[] {
  const seen = new Map<string, number>();
  const out: Mailbox[] = [];
  entries.forEach((e, i) => {
    const where = `mailboxes[${i}]`;
    const before = problems.list.length;
    const first = seen.get(e.name.toLowerCase());
    if (first !== undefined) problems.add(`${where}.name "${e.name}" is used twice (also mailboxes[${first}])`);
    seen.set(e.name.toLowerCase(), i);
    if (!e.host || !isHostName(e.host)) problems.add(`${where}.host must be a host name or IP address (no scheme, user or path) (got ${JSON.stringify(e.host === undefined ? null : redactSecrets(e.host))})`);
    if (!e.user) problems.add(`${where}.user must be the login name (got ${JSON.stringify(e.user ?? '')})`);
    const password = env[mailboxEnvVar(e.name, 'PASSWORD')] || e.password;
    const accessToken = env[mailboxEnvVar(e.name, 'ACCESSTOKEN')] || e.accessToken;
    if (!password && !accessToken) {
      problems.add(`${where} (${e.name}): a mailbox needs a password or an OAuth2 accessToken (in the file, or ` +
        `${mailboxEnvVar(e.name, 'PASSWORD')} / ${mailboxEnvVar(e.name, 'ACCESSTOKEN')} in the environment)`);
    }
    if (password && accessToken) problems.add(`${where} (${e.name}): set a password or an accessToken, not both`);
    const address = e.address ?? (e.user?.includes('@') ? e.user : undefined);
    if (address !== undefined && !/^[^\s@]+@[^\s@]+$/.test(address)) problems.add(`${where}.address must be the mailbox's own email address (got ${JSON.stringify(address)})`);
    const folders = e.folders ?? ['INBOX'];
    const dup = folders.find((f, k) => folders.indexOf(f) !== k);
    if (dup) problems.add(`${where}.folders must be a list without repeats ("${dup}" is there twice)`);
    let flag = e.flag ?? null;
    if (e.afterImport === 'move' && !e.moveTo) problems.add(`${where}.moveTo must be the folder imported messages are moved to (afterImport is move)`);
    if (e.afterImport !== 'move' && e.moveTo) problems.add(`${where}.moveTo (${e.name}): applies only with afterImport: move`);
    if (e.afterImport !== 'flag' && flag) problems.add(`${where}.flag (${e.name}): applies only with afterImport: flag`);
    if (e.afterImport === 'flag') {
      flag ??= DEFAULT_FLAG;
      if (!FLAG.test(flag)) problems.add(`${where}.flag must be an IMAP flag such as \\Seen or a keyword such as $XtImported (got ${JSON.stringify(flag)})`);
    }
    if (e.moveTo && folders.includes(e.moveTo)) {
      problems.add(`${where}.moveTo (${e.name}): "${e.moveTo}" is also one of the folders read; move to a folder that is not read`);
    }
    if (problems.list.length > before) return;
    out.push({
      name: e.name,
      host: e.host!,
      port: e.port ?? DEFAULT_PORT[e.security],
      security: e.security,
      user: e.user!,
      password: password ?? null,
      accessToken: accessToken ?? null,
      folders,
      address: address?.toLowerCase() ?? null,
      afterImport: e.afterImport,
      moveTo: e.afterImport === 'move' ? e.moveTo! : null,
      flag: e.afterImport === 'flag' ? flag : null,
      tls: { caPath: e.tls.caPath ?? null, rejectUnauthorized: e.tls.rejectUnauthorized, servername: e.tls.servername ?? null },
      timeoutMs: e.timeoutMs,
      batchSize: e.batchSize,
      batchBytes: 16 * 1024 * 1024,
    });
  });
  return out;
}
