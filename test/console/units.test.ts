import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';
import { parseListenFlag } from '../../src/cli/commands/console';
import { html, query } from '../../src/console/html';
import { localInputValue, parseLocalInput, viewerZone, zoneLabel } from '../../src/console/time';

describe('html', () => {
  test('escapes every interpolated value, once', () => {
    const subject = `<script>alert("x")</script> & 'quotes' \`tick\``;
    const inner = html`<b>${subject}</b>`;
    expect(html`<td title="${subject}">${inner}</td>`.text).toBe(
      '<td title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39; &#96;tick&#96;">' +
      '<b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39; &#96;tick&#96;</b></td>');
  });
  test('arrays are joined, null/undefined/false render nothing, numbers as text', () => {
    expect(html`${[1, '<', null, undefined, false, html`<i>ok</i>`]}`.text).toBe('1&lt;<i>ok</i>');
  });
  test('query strings encode their values and leave out empty ones', () => {
    expect(query({ q: 'a&b=c', state: '', before: 5, x: null })).toBe('?q=a%26b%3Dc&before=5');
    expect(query({})).toBe('');
  });
});

describe('times', () => {
  test('the viewer zone is a valid IANA name from the cookie, else UTC', () => {
    expect(viewerZone('America/New_York')).toBe('America/New_York');
    expect(viewerZone('Mars/Olympus')).toBe('UTC');
    expect(viewerZone('"><script>')).toBe('UTC');
    expect(viewerZone(undefined)).toBe('UTC');
    expect(zoneLabel('UTC')).toBe('UTC (UTC+00:00)');
  });
  test('a date picker value is read in the viewer\'s zone and written back the same', () => {
    const t = parseLocalInput('2031-07-04T09:30', 'America/New_York')!;
    expect(t.toISOString()).toBe('2031-07-04T13:30:00.000Z');
    expect(localInputValue(t, 'America/New_York')).toBe('2031-07-04T09:30');
    expect(parseLocalInput('tomorrow', 'UTC')).toBeNull();
    expect(parseLocalInput('', 'UTC')).toBeNull();
  });
});

describe('console.listen', () => {
  const env = (v: Record<string, string>) => ({ HOME: '/nonexistent', ...v }) as NodeJS.ProcessEnv;
  test('off by default; a bare port binds loopback; host:port as written', () => {
    expect(loadConfig({}, env({})).console?.listen).toBeNull();
    expect(loadConfig({}, env({ XTCONNECT_CONSOLE_LISTEN: '8080' })).console?.listen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(loadConfig({}, env({ XTCONNECT_CONSOLE_LISTEN: '0.0.0.0:9000' })).console?.listen).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(parseListenFlag('8081')).toEqual({ host: '127.0.0.1', port: 8081 });
  });
  test('a bad value stops the program naming the key', () => {
    expect(() => loadConfig({}, env({ XTCONNECT_CONSOLE_LISTEN: 'eighty' }))).toThrow(ConfigError);
    expect(() => loadConfig({}, env({ XTCONNECT_CONSOLE_LISTEN: 'eighty' }))).toThrow(/(console\.listen|XTCONNECT_CONSOLE_LISTEN) must be a port or host:port/);
    expect(() => parseListenFlag('host:99999')).toThrow(/--listen/);
  });
});
