import type { Queryable } from './emlStore';

/**
 * Messages email sync could not import (xtbatch.xtconnect_emlsync_failed, sql/0024): recorded with the reason and
 * passed by, so one bad message does not hold up its mailbox; tried again once per run until it has failed in
 * MAX_FAILED_RUNS runs, then given up.
 */
export const MAX_FAILED_RUNS = 3;

export interface FailedMessage {
  uid: number;
  attempts: number;
  givenUp: boolean;
  reason: string;
}

export interface FolderKey {
  mailbox: string;
  folder: string;
  uidValidity: string;
}

/** The UIDs of the folder's recorded failures that are still to be tried again (not given up). */
export async function pendingFailures(q: Queryable, k: FolderKey): Promise<number[]> {
  const { rows } = await q.query<{ uid: string }>(
    `SELECT emlsync_failed_uid::text AS uid FROM xtbatch.xtconnect_emlsync_failed
      WHERE emlsync_failed_mailbox = $1 AND emlsync_failed_folder = $2 AND emlsync_failed_uidvalidity = $3::bigint
        AND NOT emlsync_failed_given_up
      ORDER BY emlsync_failed_uid`,
    [k.mailbox, k.folder, k.uidValidity],
  );
  return rows.map((r) => Number(r.uid));
}

/** Records one more failed run of a message; returns its count of failed runs and whether it is now given up. */
export async function recordFailure(q: Queryable, k: FolderKey, uid: number, reason: string, subject: string | null): Promise<FailedMessage> {
  const { rows } = await q.query<{ attempts: number; given_up: boolean }>(
    `INSERT INTO xtbatch.xtconnect_emlsync_failed AS f
            (emlsync_failed_mailbox, emlsync_failed_folder, emlsync_failed_uidvalidity, emlsync_failed_uid,
             emlsync_failed_reason, emlsync_failed_subject, emlsync_failed_given_up)
     VALUES ($1, $2, $3::bigint, $4, $5, $6, $7 <= 1)
     ON CONFLICT (emlsync_failed_mailbox, emlsync_failed_folder, emlsync_failed_uidvalidity, emlsync_failed_uid) DO UPDATE
        SET emlsync_failed_attempts = f.emlsync_failed_attempts + 1,
            emlsync_failed_reason = EXCLUDED.emlsync_failed_reason,
            emlsync_failed_subject = coalesce(EXCLUDED.emlsync_failed_subject, f.emlsync_failed_subject),
            emlsync_failed_last = now(),
            emlsync_failed_given_up = f.emlsync_failed_attempts + 1 >= $7
     RETURNING emlsync_failed_attempts AS attempts, emlsync_failed_given_up AS given_up`,
    [k.mailbox, k.folder, k.uidValidity, uid, reason, subject, MAX_FAILED_RUNS],
  );
  const r = rows[0]!;
  return { uid, attempts: r.attempts, givenUp: r.given_up, reason };
}

/** A message recorded as failed has now been imported (or found already there): its record goes. */
export async function clearFailure(q: Queryable, k: FolderKey, uid: number): Promise<void> {
  await q.query(
    `DELETE FROM xtbatch.xtconnect_emlsync_failed
      WHERE emlsync_failed_mailbox = $1 AND emlsync_failed_folder = $2 AND emlsync_failed_uidvalidity = $3::bigint AND emlsync_failed_uid = $4`,
    [k.mailbox, k.folder, k.uidValidity, uid],
  );
}
