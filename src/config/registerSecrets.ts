import { registerSecret, urlPasswords } from '../secrets';
import type { Config } from './types';

/**
 * Tells the redactor (src/secrets.ts) every secret the config and the environment hold, so that none of them
 * appears in a log line or a job row even where no pattern would recognise it (a server echoing a password).
 */
export function registerConfigSecrets(cfg: Config, env: NodeJS.ProcessEnv): void {
  for (const url of [cfg.database.url, cfg.database.listenUrl]) for (const p of urlPasswords(url)) registerSecret(p);
  registerSecret(env.PGPASSWORD);
  if (cfg.smtp) registerSecret(cfg.smtp.password, { user: cfg.smtp.user });
  for (const m of cfg.mailboxes) {
    registerSecret(m.password, { user: m.user });
    registerSecret(m.accessToken);
  }
  for (const e of cfg.endpoints) {
    registerSecret(e.password, { user: e.user });
    registerSecret(e.passphrase);
  }
}
