/**
 * OpenRPT definitions → typed model: the ten real xTuple definitions, and the errors a bad one gives.
 */
import { DefinitionError, parseDefinition } from '../../src/reports/openrpt';
import { FIXTURE_NAMES, fixtureXml, loadFixture } from './fixtures-render/helpers';

function minimal(body: string, head = '<size>Letter</size>'): string {
  return `<!DOCTYPE openRPTDef>\n<report><title>T</title><name>Mini</name><description>d</description>${head}${body}</report>`;
}

describe('parseDefinition on the xTuple fixtures', () => {
  test.each(FIXTURE_NAMES)('%s parses with its name, queries and at least one band', (name) => {
    const def = loadFixture(name);
    expect(def.name.toLowerCase()).toBe(name.toLowerCase());
    expect(def.queries.length).toBeGreaterThan(0);
    for (const q of def.queries) {
      expect(q.loadFromDb ? q.mqlName : q.sql).toBeTruthy();
    }
    const bands = [def.reportHead, def.pageHeads.any, def.pageHeads.first, ...def.sections.map((s) => s.detail)];
    expect(bands.some((b) => b !== null)).toBe(true);
  });

  test('ARAging: landscape Letter, its margins, a grouped section with an after-foot break and subtotals', () => {
    const def = loadFixture('ARAging');
    expect(def.title).toBe('AR 30 60 90 Aging');
    expect(def.page).toMatchObject({ sizeName: 'Letter', landscape: true, width: 1100, height: 850, labelType: null });
    expect(def.page.margins).toEqual({ top: 100, bottom: 100, left: 50, right: 50 });
    expect(def.queries.map((q) => q.name)).toEqual(['detail']);
    expect(def.queries[0]!.sql).toContain('<? if exists("cust_id") ?>');
    expect(def.sections).toHaveLength(1);
    const s = def.sections[0]!;
    expect(s).toMatchObject({ name: 'detail', keyQuery: 'detail', keyColumn: '', pagebreakAtEnd: false });
    expect(s.groups).toHaveLength(1);
    expect(s.groups[0]).toMatchObject({ name: 'Customer', column: 'araging_cust_number', pagebreakAfterFoot: true });
    const subtotals = s.groups[0]!.foot!.elements.filter((e) => e.kind === 'field' && e.subtotal);
    expect(subtotals).toHaveLength(6);
    expect(subtotals[0]).toMatchObject({ format: 'qty', builtin: true, trackTotal: true });
    // lastpage footer has the grand totals; the "any" footer the page number.
    expect(def.pageFoots.last!.elements.filter((e) => e.kind === 'field' && e.trackTotal && !e.subtotal)).toHaveLength(6);
    expect(def.pageFoots.any!.height).toBe(57);
    expect(def.trackedColumns.map((t) => t.column).sort()).toEqual(
      ['araging_cur_val', 'araging_ninety_val', 'araging_plus_val', 'araging_sixty_val', 'araging_thirty_val', 'araging_total_val'],
    );
  });

  test('UOMs: portrait Letter, an empty firstpage header, the "any" header and footer, one detail', () => {
    const def = loadFixture('UOMs');
    expect(def.page).toMatchObject({ width: 850, height: 1100, landscape: false });
    expect(def.page.margins).toEqual({ top: 50, bottom: 50, left: 50, right: 50 });
    expect(def.pageHeads.first).toMatchObject({ height: 6, elements: [], textAreas: [] });
    expect(def.pageHeads.any!.elements.map((e) => e.kind)).toEqual(['label', 'line', 'label']);
    expect(def.pageHeads.last).toBeNull();
    expect(def.sections[0]!.detail.height).toBe(16);
    expect(def.reportHead!.height).toBe(76);
  });

  test('itemLabel: Labels mode on Avery 5263 paper, line ends truncated, a 3of9 barcode and a text area', () => {
    const def = loadFixture('itemLabel');
    expect(def.page).toMatchObject({ sizeName: 'Labels', labelType: 'Avery 5263', width: 850, height: 1100 });
    const detail = def.sections[0]!.detail;
    const line = detail.elements.find((e) => e.kind === 'line');
    expect(line).toMatchObject({ x1: 28, y1: 47, x2: 243, y2: 47, width: 0 });
    expect(detail.elements.find((e) => e.kind === 'barcode')).toMatchObject({ format: '3of9', align: 'left', narrowBarWidth: 0.01 });
    expect(detail.textAreas).toHaveLength(1);
    // "Open Sans,Helvetica,..." is a fallback list: Helvetica.
    expect(detail.textAreas[0]!.font).toMatchObject({ family: 'Helvetica', size: 8, bold: false, builtIn: 'DejaVuSans' });
  });

  test('PurchaseOrder: a data watermark, an image from the Logo query, seven queries, lastpage footer', () => {
    const def = loadFixture('PurchaseOrder');
    expect(def.watermark).toEqual({ text: null, data: { query: 'Head', column: 'title' }, font: null, opacity: 25 });
    expect(def.queries.map((q) => q.name)).toEqual(['Head', 'Detail', 'Foot', 'Logo', 'Currency', 'Address', 'ShipToAddress']);
    expect(def.pageHeads.any!.elements[0]).toMatchObject({ kind: 'image', mode: 'stretch', inline: null, data: { query: 'Logo', column: 'image_data' } });
    expect(def.pageFoots.last).not.toBeNull();
    expect(def.page.margins).toEqual({ top: 28, bottom: 28, left: 20, right: 20 });
  });

  test('Quote: four sections, two on the same query, a fractional foot height, bold Arial', () => {
    const def = loadFixture('Quote');
    expect(def.sections.map((s) => [s.name, s.keyQuery])).toEqual([
      ['lineitems', 'items'], ['items', 'items'], ['notes', 'notes'], ['extdescrip', 'notes'],
    ]);
    expect(def.sections[0]!.groups[0]!.foot!.height).toBeCloseTo(33.8828, 4);
    expect(def.sections[1]!.groups[0]!.column).toBe('one');
    expect(def.sections[1]!.detail.height).toBe(7);
    const title = def.reportHead!.elements.find((e) => e.kind === 'label' && e.text === 'Quote');
    expect(title).toMatchObject({ font: { family: 'Helvetica', bold: true } });
  });
});

describe('parseDefinition rules', () => {
  test('missing margins are 1 inch, bad or negative ones 0.5 inch; unknown sizes are Letter; custom sizes', () => {
    const def = parseDefinition(minimal('', '<size>Weird</size><topmargin>abc</topmargin><bottommargin>-3</bottommargin><leftmargin>12.5</leftmargin>'));
    expect(def.page.margins).toEqual({ top: 50, bottom: 50, left: 12.5, right: 100 });
    expect([def.page.width, def.page.height]).toEqual([850, 1100]);
    const a4 = parseDefinition(minimal('', '<size>A4</size><landscape/>'));
    expect([a4.page.width, a4.page.height]).toEqual([1170, 826]);
    const custom = parseDefinition(minimal('', '<size><width>400</width><height>600</height></size>'));
    expect(custom.page).toMatchObject({ sizeName: 'Custom', width: 400, height: 600 });
  });

  test('page header markers: one slot each, the last duplicate wins', () => {
    const def = parseDefinition(minimal('<pghead><odd/><height>10</height></pghead><pghead><odd/><height>20</height></pghead><pgfoot><even/><height>5</height></pgfoot>'));
    expect(def.pageHeads.odd!.height).toBe(20);
    expect(def.pageFoots.even!.height).toBe(5);
    expect(def.pageHeads.any).toBeNull();
  });

  test('sections without name, detail or key query are dropped; old-style grouphead becomes a group on the key column', () => {
    const def = parseDefinition(minimal(`
      <querysource><name>q</name><sql>select 1</sql></querysource>
      <querysource><name>q</name><sql>select 2</sql></querysource>
      <section><detail><key><query>q</query></key><height>10</height></detail></section>
      <section><name>nokey</name><detail><height>10</height></detail></section>
      <section><name>ok</name><pagebreak when="at end"/>
        <grouphead><height>12</height></grouphead><groupfoot><height>13</height></groupfoot>
        <detail><key><query>q</query><column>id</column></key><height>10</height>
          <field><rect><x>1.9</x><y>2</y><width>3</width><height>4</height></rect><data><query>q</query><column>c</column></data></field>
          <field><data><query>q</query><column>norect</column></data></field>
          <label><rect><x>1</x><y>2</y><width>3</width><height>4</height></rect></label>
          <sparkline><rect/></sparkline>
        </detail></section>`));
    // Two queries of one name: the first wins.
    expect(def.queries).toEqual([{ name: 'q', sql: 'select 1', mqlGroup: null, mqlName: null, loadFromDb: false }]);
    expect(def.sections.map((s) => s.name)).toEqual(['ok']);
    const s = def.sections[0]!;
    expect(s.pagebreakAtEnd).toBe(true);
    expect(s.groups).toEqual([expect.objectContaining({ column: 'id', head: expect.objectContaining({ height: 12 }), foot: expect.objectContaining({ height: 13 }) })]);
    // The field without a rect and the label without a string are dropped; the unknown tag is ignored.
    expect(s.detail.elements).toHaveLength(1);
    expect(s.detail.elements[0]).toMatchObject({ kind: 'field', rect: { x: 1, y: 2, w: 3, h: 4 } });
  });

  test('MetaSQL queries loaded from the database', () => {
    const def = parseDefinition(minimal('<querysource loadFromDb="true"><name>detail</name><mqlgroup>arOpenItems</mqlgroup><mqlname>detail</mqlname></querysource>'));
    expect(def.queries).toEqual([{ name: 'detail', sql: null, mqlGroup: 'arOpenItems', mqlName: 'detail', loadFromDb: true }]);
  });

  test('fonts: faces map to DejaVu Sans, Serif and Sans Mono, weight 63 and up is bold, italic', () => {
    const field = (font: string): unknown =>
      parseDefinition(minimal(`<rpthead><height>10</height><label><rect><x>0</x><y>0</y><width>9</width><height>9</height></rect><font>${font}</font><string>x</string></label></rpthead>`))
        .reportHead!.elements[0];
    expect(field('<face>Times New Roman</face><size>9</size><weight>bold</weight><italic/>')).toMatchObject({ font: { builtIn: 'DejaVuSerif-BoldItalic', size: 9, face: 'Times New Roman' } });
    expect(field('<face>Courier New</face><size>8</size><weight>62</weight>')).toMatchObject({ font: { builtIn: 'DejaVuSansMono' } });
    expect(field('<face>Courier New</face><size>8</size><weight>63</weight>')).toMatchObject({ font: { builtIn: 'DejaVuSansMono-Bold' } });
    expect(field('<face>Arial</face><size>8.5</size><italic/>')).toMatchObject({ font: { builtIn: 'DejaVuSans-Oblique', size: 10 } });
  });

  test('not well-formed XML: DefinitionError naming the report, line and column', () => {
    const bad = fixtureXml('UOMs').replace('</pghead>', '</pgheadx>');
    expect(() => parseDefinition(bad, 'UOMs')).toThrow(DefinitionError);
    expect(() => parseDefinition(bad, 'UOMs')).toThrow(/report "UOMs": the definition is not well-formed XML \(line \d+, column \d+/);
  });

  test('a root that is not <report>, and values that are not numbers: the message names report and element', () => {
    expect(() => parseDefinition('<html><body/></html>', 'x')).toThrow(/report "x": the definition's root element is <html>, not <report>/);
    const xml = minimal('<section><name>main</name><detail><key><query>q</query></key><height>10</height>' +
      '<label><rect><x>1</x><y>2</y><width>3</width><height>4</height></rect><string>a</string></label>' +
      '<label><rect><x>ten</x><y>2</y><width>3</width><height>4</height></rect><string>b</string></label></detail></section>');
    expect(() => parseDefinition(xml)).toThrow(new DefinitionError('report "Mini": label 2 in section "main" detail: <x> is "ten", not a number'));
    expect(() => parseDefinition(minimal('<querysource><sql>select 1</sql></querysource>'))).toThrow(/report "Mini": querysource 1: has no <name>/);
    expect(() => parseDefinition(minimal('', '<size>Labels</size><labeltype>Avery 9999</labeltype>'))).toThrow(/label type "Avery 9999" is unknown/);
    expect(() => parseDefinition(minimal('<rpthead><height>5</height><image><rect><x>0</x><y>0</y><width>9</width><height>9</height></rect><map format="PNG">iVBORw0KGgo=</map></image></rpthead>')))
      .toThrow(/image 1 in rpthead: <map> holds no uuencoded image/);
  });
});
