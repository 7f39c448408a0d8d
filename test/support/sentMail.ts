import crypto from 'node:crypto';
import type { SentMail } from '../../src/db/queries/sentMail';

/**
 * The record of a plain message from erp@ourco.example to `to`, as the mailer hands it over (src/sync/recordSent.ts):
 * its bytes, their SHA-1, and what xtbatch.eml and emladdr hold. `linked`: it needs xTuple's import (contacts).
 */
export function sentMailRecord(subject: string, to: string, opts: { linked?: boolean; toName?: string } = {}): SentMail {
  const raw = Buffer.from(`From: erp@ourco.example\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nbody of ${subject}\r\n`);
  return {
    raw, hash: crypto.createHash('sha1').update(raw).digest(), date: new Date('2026-12-06T04:00:00Z'), subject, body: `body of ${subject}`,
    addresses: [{ type: 'FROM', addr: 'erp@ourco.example', name: '' }, { type: 'TO', addr: to, name: opts.toName ?? '' }],
    ...(opts.linked ? { links: { own: ['erp@ourco.example'] } } : {}),
  };
}
