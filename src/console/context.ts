import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config';
import type { Pool } from '../db/pool';
import type { Logger } from '../log';
import type { Viewer } from './layout';
import type { JobFeed } from './live';
import { viewerZone } from './time';

declare module 'fastify' {
  interface Session {
    user?: string;
    admin?: boolean;
    flash?: { ok: boolean; message: string } | null;
  }
}

export interface ConsoleContext {
  cfg: Config;
  pool: Pool;
  log: Logger;
  feed: JobFeed;
  /** The database the console's pool uses (login checks connect there as the user). */
  url: string | null;
}

export function viewerOf(req: FastifyRequest, reply: FastifyReply): Viewer {
  return {
    user: req.session.user!,
    admin: Boolean(req.session.admin),
    zone: viewerZone(req.cookies.xtc_tz),
    csrf: reply.generateCsrf(),
  };
}

/** A non-administrator's jobs are filtered to their own batch_user; null means "all jobs". */
export function onlyUserOf(req: FastifyRequest): string | null {
  return req.session.admin ? null : req.session.user!;
}

/** The one-time message the next page shows (post, redirect, get). */
export function setFlash(req: FastifyRequest, ok: boolean, message: string): void {
  req.session.flash = { ok, message };
}

export function takeFlash(req: FastifyRequest): { ok: boolean; message: string } | null {
  const f = req.session.flash ?? null;
  if (f) req.session.flash = null;
  return f;
}

export function sendPage(reply: FastifyReply, text: string, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(text);
}

/** A whole number that fits a PostgreSQL integer, else null. */
export function intParam(v: unknown): number | null {
  if (typeof v !== 'string' || !/^\d{1,10}$/.test(v)) return null;
  const n = Number(v);
  return n <= 2_147_483_647 ? n : null;
}

export function str(v: unknown, max = 500): string {
  return typeof v === 'string' ? v.slice(0, max) : '';
}
