import type { Queryable } from './emlStore';

/** How far one (mailbox, folder) has been imported (xtbatch.emlsync_folder). */
export interface FolderState {
  /** UIDVALIDITY as text: IMAP allows 32 bits unsigned, and imapflow hands it over as a BigInt. */
  uidValidity: string;
  lastUid: number;
}

export async function readFolderState(q: Queryable, mailbox: string, folder: string): Promise<FolderState | null> {
  const { rows } = await q.query<{ v: string; u: string }>(
    `SELECT emlsync_folder_uidvalidity::text AS v, emlsync_folder_last_uid::text AS u
       FROM xtbatch.emlsync_folder
      WHERE emlsync_folder_mailbox = $1 AND emlsync_folder_folder = $2`,
    [mailbox, folder],
  );
  const r = rows[0];
  return r ? { uidValidity: r.v, lastUid: Number(r.u) } : null;
}

/**
 * Records progress. Under the same UIDVALIDITY the last UID only moves forward (a slower, older writer cannot move it
 * back); a new UIDVALIDITY replaces the old progress, which is how a re-scan starts. (Each imported message saves
 * its progress inside xtbatch.emlsync_import, by the same rule.)
 */
export async function saveFolderState(q: Queryable, mailbox: string, folder: string, state: FolderState): Promise<void> {
  await q.query(
    `INSERT INTO xtbatch.emlsync_folder AS f
            (emlsync_folder_mailbox, emlsync_folder_folder, emlsync_folder_uidvalidity, emlsync_folder_last_uid)
     VALUES ($1, $2, $3::bigint, $4::bigint)
     ON CONFLICT (emlsync_folder_mailbox, emlsync_folder_folder) DO UPDATE
        SET emlsync_folder_last_uid = CASE WHEN f.emlsync_folder_uidvalidity = EXCLUDED.emlsync_folder_uidvalidity
                                           THEN greatest(f.emlsync_folder_last_uid, EXCLUDED.emlsync_folder_last_uid)
                                           ELSE EXCLUDED.emlsync_folder_last_uid END,
            emlsync_folder_uidvalidity = EXCLUDED.emlsync_folder_uidvalidity,
            emlsync_folder_updated = now()`,
    [mailbox, folder, state.uidValidity, state.lastUid],
  );
}
