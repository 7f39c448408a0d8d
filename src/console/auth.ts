import pg from 'pg';
import { parse as parseConnectionString } from 'pg-connection-string';
import { clientConfig } from '../db/pool';

/** The administrator role of the console (sql/0020_console.sql); superusers are administrators too. */
export const ADMIN_ROLE = 'xtconnect_admin';

export interface LoginResult {
  ok: boolean;
  /** Why not, in words fit for the login page (never the server's full message, which may name the setup). */
  reason?: string;
  user?: string;
  admin?: boolean;
}

export interface LoginCheckOptions {
  /** The console's own database connection string (its user and password are replaced by the login's). */
  url: string | null;
  /**
   * Accept a login the server let in without asking for a password (trust, peer or cert authentication). Off by
   * default: the console would otherwise let anyone who reaches it act as any role, superusers included.
   */
  allowPasswordless: boolean;
}

/**
 * Checks a user's database credentials by connecting as that role to the console's database, the way the ERP
 * client logs in. The password is used for this one connection and kept nowhere. The same connection tells
 * whether the role is an administrator.
 */
export async function checkLogin(user: string, password: string, opts: LoginCheckOptions): Promise<LoginResult> {
  if (!user || user.length > 63 || !password || password.length > 1000) return { ok: false, reason: 'Enter your database user name and password.' };
  let asked = false;
  const base = clientConfig({ url: opts.url, applicationName: 'xtconnect console login' });
  // Server, port, database and TLS options from the console's URL; user and password are the login's. pg lets a
  // connectionString win over separate fields, so the URL is taken apart instead of passed on.
  const { connectionString, ...rest } = base;
  const fromUrl = connectionString ? parseConnectionString(connectionString) : {};
  const client = new pg.Client({
    ...rest,
    ...(fromUrl as pg.ClientConfig),
    user,
    // A function: pg calls it only when the server asks for a password, which tells us whether it checked one.
    password: () => {
      asked = true;
      return password;
    },
    connectionTimeoutMillis: 10_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    const code = (err as { code?: string }).code;
    // 28P01 wrong password, 28000 no such role / not permitted to log in: the same answer, so names cannot be probed.
    if (code === '28P01' || code === '28000') return { ok: false, reason: 'Wrong user name or password.' };
    return { ok: false, reason: 'The database could not be reached to check the password; try again later.' };
  }
  try {
    if (!asked && !opts.allowPasswordless) {
      return {
        ok: false,
        reason: 'The database server let this role in without checking a password (trust authentication), so the ' +
          'console cannot check who you are. Ask the administrator to require passwords (pg_hba.conf).',
      };
    }
    const { rows } = await client.query<{ user: string; admin: boolean }>(
      `SELECT current_user AS user,
              (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
              OR (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AND pg_has_role(current_user, $1, 'MEMBER')) AS admin`,
      [ADMIN_ROLE],
    );
    return { ok: true, user: rows[0]!.user, admin: Boolean(rows[0]!.admin) };
  } finally {
    await client.end().catch(() => undefined);
  }
}
