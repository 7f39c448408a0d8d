import { DateTime } from 'luxon';
import { html, type Html } from './html';

/** The viewer's IANA zone as the browser reported it (cookie xtc_tz), or UTC when unknown or invalid. */
export function viewerZone(cookie: string | undefined): string {
  if (!cookie || cookie.length > 64 || !/^[A-Za-z0-9_+\-/]+$/.test(cookie)) return 'UTC';
  return DateTime.now().setZone(cookie).isValid ? cookie : 'UTC';
}

export function formatTime(t: Date | null | undefined, zone: string): string {
  if (!t) return '';
  return DateTime.fromJSDate(t).setZone(zone).toFormat('yyyy-MM-dd HH:mm:ss');
}

/** A <time> element: the instant in ISO (machine-readable) and the viewer's local time as text. */
export function timeTag(t: Date | null | undefined, zone: string, o: { short?: boolean } = {}): Html | string {
  if (!t) return '';
  if (o.short) {
    // Lists show minutes; the seconds are in the tooltip.
    return html`<time datetime="${t.toISOString()}" title="${formatTime(t, zone)}">${DateTime.fromJSDate(t).setZone(zone).toFormat('yyyy-MM-dd HH:mm')}</time>`;
  }
  return html`<time datetime="${t.toISOString()}">${formatTime(t, zone)}</time>`;
}

/** "Europe/Berlin (UTC+01:00)", shown once per page so every time on it is unambiguous. */
export function zoneLabel(zone: string): string {
  const off = DateTime.now().setZone(zone).toFormat('ZZ');
  return `${zone} (UTC${off})`;
}

/** A datetime-local value (no zone) for the viewer, e.g. the reschedule picker's current value. */
export function localInputValue(t: Date | null | undefined, zone: string): string {
  if (!t) return '';
  return DateTime.fromJSDate(t).setZone(zone).toFormat("yyyy-MM-dd'T'HH:mm");
}

/** A datetime-local value read in the viewer's zone; null when empty or not a date. */
export function parseLocalInput(v: string | undefined, zone: string): Date | null {
  if (!v || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(v)) return null;
  const d = DateTime.fromISO(v, { zone });
  return d.isValid ? d.toJSDate() : null;
}
