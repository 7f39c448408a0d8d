/**
 * OpenRPT report XML → ReportDefinition (openrpt-reference §1–§3). Parsed once per report, so the layout never
 * touches XML while rows stream through it.
 */
import { Ctx, DefinitionError } from './definitionContext';
import { parseBackground, parseElement, parseWatermark } from './definitionElements';
import { builtInLabelNames, labelSheetByName } from './labels';
import type {
  BackgroundDef, DataRef, DetailSectionDef, ElementDef, GroupDef, PageBands, PageSetup, QuerySourceDef, ReportDefinition,
  SectionDef, TextElement, WatermarkDef,
} from './model';
import { pageSizeByName } from './pageSizes';
import { child, childText, has, parseXml, XmlSyntaxError, type XNode } from './xmlTree';

export { DefinitionError } from './definitionContext';
export { DEFAULT_FONT, familyOf } from './definitionFonts';

export function parseDefinition(xml: string, nameHint?: string): ReportDefinition {
  const label = nameHint ?? 'unnamed';
  let root: XNode | null;
  try {
    root = parseXml(xml);
  } catch (err) {
    if (err instanceof XmlSyntaxError) {
      throw new DefinitionError(`report "${label}": the definition is not well-formed XML (line ${err.line}, column ${err.col}: ${err.message})`);
    }
    throw err;
  }
  if (root === null || root.tag !== 'report') {
    throw new DefinitionError(`report "${label}": the definition's root element is <${root?.tag ?? 'nothing'}>, not <report>`);
  }
  const name = childText(root, 'name') || nameHint || '';
  const ctx = new Ctx(name || label);

  const queries: QuerySourceDef[] = [];
  const pageHeads: PageBands = { first: null, odd: null, even: null, last: null, any: null };
  const pageFoots: PageBands = { first: null, odd: null, even: null, last: null, any: null };
  const sections: DetailSectionDef[] = [];
  let reportHead: SectionDef | null = null;
  let reportFoot: SectionDef | null = null;
  let watermark: WatermarkDef | null = null;
  let background: BackgroundDef | null = null;

  for (const node of root.children) {
    switch (node.tag) {
      case 'querysource': {
        const q = parseQuerySource(ctx, node, queries.length + 1);
        // Two queries of one name: the first wins (§2).
        if (!queries.some((e) => e.name === q.name)) queries.push(q);
        break;
      }
      case 'rpthead':
        reportHead = parseBand(ctx, node, 'rpthead');
        break;
      case 'rptfoot':
        reportFoot = parseBand(ctx, node, 'rptfoot');
        break;
      case 'pghead':
      case 'pgfoot': {
        const slots = node.tag === 'pghead' ? pageHeads : pageFoots;
        const marker = has(node, 'firstpage') ? 'first' : has(node, 'odd') ? 'odd' : has(node, 'even') ? 'even' : has(node, 'lastpage') ? 'last' : 'any';
        slots[marker] = parseBand(ctx, node, `${node.tag} (${marker === 'first' ? 'firstpage' : marker === 'last' ? 'lastpage' : marker})`);
        break;
      }
      case 'section': {
        const s = parseDetailSection(ctx, node);
        if (s) sections.push(s);
        break;
      }
      case 'watermark':
        watermark = parseWatermark(ctx, node);
        break;
      case 'background':
        background = parseBackground(ctx, node);
        break;
      default:
        // title, description, size, margins... are read below; grid, database, colordef, parameter are ignored.
        break;
    }
  }

  const def: ReportDefinition = {
    name,
    title: childText(root, 'title') ?? '',
    description: childText(root, 'description') ?? '',
    queries,
    page: parsePage(ctx, root),
    reportHead,
    reportFoot,
    pageHeads,
    pageFoots,
    sections,
    watermark,
    background,
    trackedColumns: [],
  };
  def.trackedColumns = collectTracked(def);
  return def;
}

function parseQuerySource(ctx: Ctx, node: XNode, n: number): QuerySourceDef {
  const name = childText(node, 'name') ?? '';
  const where = name ? `querysource "${name}"` : `querysource ${n}`;
  if (!name) ctx.fail(where, 'has no <name>');
  const loadFromDb = (node.attrs['loadFromDb'] ?? '').toLowerCase() === 'true';
  const sqlNode = child(node, 'sql');
  const mqlGroup = childText(node, 'mqlgroup') ?? null;
  const mqlName = childText(node, 'mqlname') ?? null;
  if (loadFromDb && (!mqlGroup || !mqlName)) ctx.fail(where, 'has loadFromDb="true" but no <mqlgroup> and <mqlname>');
  if (!loadFromDb && sqlNode === undefined) ctx.fail(where, 'has no <sql>');
  return { name, sql: sqlNode ? sqlNode.text : null, mqlGroup, mqlName, loadFromDb };
}

function parsePage(ctx: Ctx, root: XNode): PageSetup {
  const sizeNode = child(root, 'size');
  const landscape = has(root, 'landscape');
  let sizeName = 'Letter';
  let w = 850;
  let h = 1100;
  let labelType: string | null = null;
  if (sizeNode && (has(sizeNode, 'width') || has(sizeNode, 'height'))) {
    sizeName = 'Custom';
    w = ctx.num(child(sizeNode, 'width'), 'page <size>', 850);
    h = ctx.num(child(sizeNode, 'height'), 'page <size>', 1100);
    if (w <= 0 || h <= 0) ctx.fail('page <size>', `the custom size ${w} x ${h} (1/100 inch) is not a page`);
  } else if (sizeNode) {
    sizeName = sizeNode.text.trim() || 'Letter';
    [w, h] = pageSizeByName(sizeName);
  }
  if (sizeName === 'Labels') {
    labelType = childText(root, 'labeltype') ?? '';
    const sheet = labelSheetByName(labelType);
    if (!sheet) ctx.fail('<labeltype>', `label type "${labelType}" is unknown (known: ${builtInLabelNames().join(', ')})`);
    [w, h] = pageSizeByName(sheet.paper);
  }
  const margin = (tag: string): number => {
    const t = childText(root, tag);
    if (t === undefined) return 100; // missing: 1 in
    const v = Number(t);
    return t === '' || !Number.isFinite(v) || v < 0 ? 50 : v; // invalid or negative: 0.5 in
  };
  return {
    sizeName,
    width: landscape ? h : w,
    height: landscape ? w : h,
    landscape,
    margins: { top: margin('topmargin'), bottom: margin('bottommargin'), left: margin('leftmargin'), right: margin('rightmargin') },
    labelType,
  };
}

function parseDetailSection(ctx: Ctx, node: XNode): DetailSectionDef | null {
  const name = childText(node, 'name') ?? '';
  const detailNode = child(node, 'detail');
  const keyNode = detailNode && child(detailNode, 'key');
  const keyQuery = keyNode ? (childText(keyNode, 'query') ?? '') : '';
  // Sections without a name, detail or key query are dropped silently, as OpenRPT does (§2).
  if (!name || !detailNode || !keyNode || !keyQuery) return null;
  const where = `section "${name}"`;
  const keyColumn = childText(keyNode, 'column') ?? '';
  const groups: GroupDef[] = [];
  let oldHead: SectionDef | null = null;
  let oldFoot: SectionDef | null = null;
  for (const c of node.children) {
    if (c.tag === 'group') {
      const gname = childText(c, 'name') ?? '';
      const gwhere = `${where} group "${gname || groups.length + 1}"`;
      const head = child(c, 'head');
      const foot = child(c, 'foot');
      groups.push({
        name: gname,
        column: childText(c, 'column') ?? '',
        pagebreakAfterFoot: breakWhen(c) === 'after foot',
        head: head ? parseBand(ctx, head, `${gwhere} head`) : null,
        foot: foot ? parseBand(ctx, foot, `${gwhere} foot`) : null,
      });
    } else if (c.tag === 'grouphead') {
      oldHead = parseBand(ctx, c, `${where} grouphead`);
    } else if (c.tag === 'groupfoot') {
      oldFoot = parseBand(ctx, c, `${where} groupfoot`);
    }
  }
  // An old-style grouphead/groupfoot is a group on the key column (§2).
  if (oldHead || oldFoot) groups.push({ name: '', column: keyColumn, pagebreakAfterFoot: false, head: oldHead, foot: oldFoot });
  return {
    name,
    pagebreakAtEnd: breakWhen(node) === 'at end',
    keyQuery,
    keyColumn,
    groups,
    detail: parseBand(ctx, detailNode, `${where} detail`),
  };
}

function breakWhen(node: XNode): string | null {
  const pb = child(node, 'pagebreak');
  return pb ? (pb.attrs['when'] ?? '').trim().toLowerCase() : null;
}

/** A band (rpthead, pghead, group head, detail, ...): its height and its elements. */
function parseBand(ctx: Ctx, node: XNode, where: string): SectionDef {
  const elements: ElementDef[] = [];
  const textAreas: TextElement[] = [];
  const counts = new Map<string, number>();
  for (const c of node.children) {
    const n = (counts.get(c.tag) ?? 0) + 1;
    counts.set(c.tag, n);
    const ewhere = `${c.tag} ${n} in ${where}`;
    const el = parseElement(ctx, c, ewhere);
    if (!el) continue;
    if (el.kind === 'text') textAreas.push(el);
    else elements.push(el);
  }
  return { where, height: ctx.num(child(node, 'height'), `${where} <height>`), elements, textAreas };
}

function allBands(def: ReportDefinition): SectionDef[] {
  const bands: (SectionDef | null)[] = [def.reportHead, def.reportFoot, ...Object.values(def.pageHeads), ...Object.values(def.pageFoots)];
  for (const s of def.sections) {
    bands.push(s.detail);
    for (const g of s.groups) bands.push(g.head, g.foot);
  }
  return bands.filter((b): b is SectionDef => b !== null);
}

function collectTracked(def: ReportDefinition): DataRef[] {
  const seen = new Map<string, DataRef>();
  for (const band of allBands(def)) {
    for (const el of band.elements) {
      if (el.kind === 'field' && el.trackTotal) seen.set(`${el.data.query}\u0000${el.data.column}`, el.data);
    }
  }
  return [...seen.values()];
}
