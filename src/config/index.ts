/**
 * The configuration: one schema (schema.ts) for the whole file, the environment laid over it (environment.ts), the
 * rules that join keys (endpoints.ts, mailboxes.ts, load.ts), and the reference and sample file generated from the
 * schema (reference.ts).
 */
export { loadConfig, checkPart, DEFAULT_CONFIG_PATH, type ConfigFlags } from './load';
export type { Config } from './types';

import type { Mailbox } from '../sync/mailboxes';
import type { EdiProfileOptions, Endpoint } from '../transfer/endpoints';
import { checkPart } from './load';

/** `mailboxes:` entries as the file would give them, checked and resolved (secrets from `env`). */
export const parseMailboxes = (raw: unknown, source: string, env: NodeJS.ProcessEnv = process.env): Mailbox[] =>
  checkPart('mailboxes', raw, source, env) as Mailbox[];

/** `endpoints:` entries as the file would give them, checked and resolved (secrets from `env`). */
export const parseEndpoints = (raw: unknown, source: string, env: NodeJS.ProcessEnv = process.env): Endpoint[] =>
  checkPart('endpoints', raw, source, env) as Endpoint[];

/** The `ediProfiles:` section, checked. */
export const parseEdiProfileOptions = (raw: unknown, source: string): Record<string, EdiProfileOptions> =>
  checkPart('ediProfiles', raw, source) as Record<string, EdiProfileOptions>;
