import { htmlToText, parseEmail } from '../../src/sync/parseMessage';
import { batches, uidSet } from '../../src/sync/fetchBatches';

describe('reading a message', () => {
  it('HTML to readable text: block ends become line breaks, scripts and styles go, entities are decoded once', () => {
    expect(htmlToText('<style>p{}</style><p>Fish &amp; chips &lt;3 &#233;t&#xE9;</p><div>a&nbsp;b<br>c</div><script>x()</script>&amp;lt;'))
      .toBe('Fish & chips <3 été\na b\nc\n&lt;');
  });

  it('flattens address groups, adds envelope-only recipients as BCC, strips NUL, and falls back to the arrival date', async () => {
    const raw = Buffer.from('From: a@x.example\r\nTo: team: b@x.example, "C" <c@x.example>;\r\nSubject: nul\u0000here\r\n\r\nbody\u0000text\r\n');
    const arrived = new Date('2026-01-02T03:04:05Z');
    const m = await parseEmail(raw, arrived, ['B@x.example', 'hidden@x.example']);
    expect(m.addresses).toEqual([
      { type: 'FROM', addr: 'a@x.example', name: '' },
      { type: 'TO', addr: 'b@x.example', name: '' },
      { type: 'TO', addr: 'c@x.example', name: 'C' },
      { type: 'BCC', addr: 'hidden@x.example', name: '' },
    ]);
    expect(m.subject).toBe('nulhere');
    expect(m.body.trim()).toBe('bodytext');
    expect(m.date).toEqual(arrived);
    expect(m.hash.toString('hex')).toHaveLength(40);
  });

  it('UID sets and batches: ranges for runs, and batches bounded by count and bytes (a large message alone)', () => {
    expect(uidSet([1, 2, 3, 5, 7, 8])).toBe('1:3,5,7:8');
    const sizes = new Map([[1, 10], [2, 10], [3, 100], [4, 10], [5, 10], [6, 10]]);
    expect(batches([1, 2, 3, 4, 5, 6], sizes, 2, 50)).toEqual([[1, 2], [3], [4, 5], [6]]);
  });
});
