import {
  bindLegacy,
  bindMetaSql,
  MetaSqlSyntaxError,
  mqlHeader,
  parseMetaSql,
  renderMetaSql,
  type MetaValue,
} from '../../src/reports/metasql';

function params(entries: Record<string, MetaValue> = {}): Map<string, MetaValue> {
  return new Map(Object.entries(entries));
}

/** Whitespace-insensitive view of the output, for comparing shapes. */
function squash(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim();
}

function render(source: string, p: Record<string, MetaValue> = {}): { text: string; values: unknown[] } {
  const r = bindMetaSql(parseMetaSql(source, 'test-query'), params(p));
  return { text: squash(r.text), values: r.values };
}

/** The text and values of the (last) statement. */
function tv(r: { text: string; values: unknown[] }): { text: string; values: unknown[] } {
  return { text: r.text, values: r.values };
}

function syntaxError(source: string, name: string | null = 'bad-query'): MetaSqlSyntaxError {
  try {
    bindMetaSql(parseMetaSql(source, name), params());
  } catch (err) {
    if (err instanceof MetaSqlSyntaxError) return err;
    throw err;
  }
  throw new Error(`no syntax error for ${JSON.stringify(source)}`);
}

describe('value and literal', () => {
  it('binds value() as a numbered placeholder and never pastes it', () => {
    const r = render(`SELECT * FROM t WHERE a = <? value("a") ?> AND b = <? value("b") ?>`, { a: "O'Brien", b: 'x' });
    expect(r.text).toBe('SELECT * FROM t WHERE a = $1 AND b = $2');
    expect(r.values).toEqual(["O'Brien", 'x']);
  });

  it('types placeholders the way Qt typed its pasted literals', () => {
    const r = render(`SELECT <? value("i") ?>, <? value("big") ?>, <? value("f") ?>, <? value("b") ?>, <? value("s") ?>`, {
      i: 42,
      big: 2 ** 40,
      f: 1.5,
      b: false,
      s: '7',
    });
    expect(r.text).toBe('SELECT $1::integer, $2::bigint, $3::numeric, $4::boolean, $5');
    expect(r.values).toEqual([42, 2 ** 40, 1.5, false, '7']);
  });

  it('gives one parameter with one value one placeholder, as Qt pasted one literal; without sharing, one per use', () => {
    const source = `SELECT <? value("x") ?>, <? value("y") ?>, <? value("x") ?>`;
    const r = render(source, { x: 'a', y: 'b' });
    expect(r.text).toBe('SELECT $1, $2, $1');
    expect(r.values).toEqual(['a', 'b']);
    const own = bindMetaSql(parseMetaSql(source), params({ x: 'a', y: 'b' }), { share: false });
    expect(tv(own)).toEqual({ text: 'SELECT $1, $2, $3', values: ['a', 'b', 'a'] });
    expect(own.shared).toBe(false);
    expect(bindMetaSql(parseMetaSql(source), params({ x: 'a', y: 'b' })).shared).toBe(true);
  });

  it('casts a value written after a type name (a typed literal once Qt had pasted it)', () => {
    const r = render(`SELECT COALESCE(d, date <? value("asof") ?> + integer '1') > <? value("asof") ?>, timestamp with time zone <? value("t") ?>, date <? value("none") ?>`, {
      asof: '2024-01-31',
      t: '2024-01-31 10:00',
    });
    expect(r.text).toBe(`SELECT COALESCE(d, CAST($1 AS date) + integer '1') > $1, CAST($2 AS timestamp with time zone), CAST(NULL AS date)`);
    expect(r.values).toEqual(['2024-01-31', '2024-01-31 10:00']);
    // A column that merely ends in a type's name is no type name.
    expect(render(`SELECT x WHERE flrpt_interval=<? value("i") ?> AND my_date <? value("i") ?>`, { i: 'M' }).text).toBe(
      'SELECT x WHERE flrpt_interval=$1 AND my_date $1',
    );
  });

  it('writes a whole number glued to a name into the name (AS char<? value("n") ?>), and nothing else', () => {
    const r = render(`SELECT charass_alias<? value("n") ?>.charass_value AS char<? value("n") ?>, x<? value("s") ?>`, { n: 12, s: "a'b" });
    expect(r.text).toBe('SELECT charass_alias12.charass_value AS char12, x$1');
    expect(r.values).toEqual(["a'b"]);
    expect(render(`SELECT AS char<? value("n") ?>`, { n: '7' }).text).toBe('SELECT AS char7');
  });

  it('writes NULL for an absent or null parameter and binds nothing for it', () => {
    const r = render(`SELECT <? value("gone") ?>, <? value("nul") ?>, <? value("here") ?>`, { nul: null, here: 1 });
    expect(r.text).toBe('SELECT NULL, NULL, $1::integer');
    expect(r.values).toEqual([1]);
  });

  it('binds dates as ISO text: a UTC midnight as a calendar date, any other time as a timestamp', () => {
    const r = render(`SELECT <? value("d") ?>, <? value("t") ?>`, {
      d: new Date('2024-02-29T00:00:00Z'),
      t: new Date('2024-02-29T13:45:00.250Z'),
    });
    expect(r.text).toBe('SELECT $1, $2');
    expect(r.values).toEqual(['2024-02-29', '2024-02-29T13:45:00.250Z']);
  });

  it('uses the first element of a list outside a foreach, and NULL for an empty list', () => {
    expect(render(`SELECT <? value("ids") ?>`, { ids: [7, 8, 9] })).toEqual({ text: 'SELECT $1::integer', values: [7] });
    expect(render(`SELECT <? value("ids") ?>`, { ids: [] })).toEqual({ text: 'SELECT NULL', values: [] });
  });

  it('pastes literal() raw, and nothing for an absent one', () => {
    const r = render(`SELECT charass_alias<? literal("n") ?>.x, '<? literal("n") ?>', <? literal("b") ?>, [<? literal("gone") ?>]`, {
      n: 12,
      b: true,
    });
    expect(r.text).toBe(`SELECT charass_alias12.x, '12', true, []`);
    expect(r.values).toEqual([]);
  });

  it('accepts bare and single-quoted arguments and ignores case in keywords, not in names', () => {
    const r = render(`SELECT <? VALUE(a) ?>, <? Value('a') ?>, <? value a ?>, <? value("A") ?>`, { a: 'lower', A: 'upper' });
    expect(r.text).toBe('SELECT $1, $1, $1, $2');
    expect(r.values).toEqual(['lower', 'upper']);
    expect(render(`<? IF Exists("x") ?>yes<? ELSE ?>no<? EndIf ?>`, { x: 1 }).text).toBe('yes');
    expect(render(`<? if exists("X") ?>yes<? else ?>no<? endif ?>`, { x: 1 }).text).toBe('no');
  });

  it('counts only the first argument', () => {
    expect(render(`SELECT <? value("a", "b") ?>`, { a: 1, b: 2 }).values).toEqual([1]);
  });
});

describe('if / elseif / else', () => {
  const q = `SELECT 1 <? if exists("a") ?>A<? elseif exists("b") ?>B<? elseif not exists("c") ?>notC<? else ?>C<? endif ?>`;
  it.each([
    [{ a: 1, b: 1 }, 'SELECT 1 A'],
    [{ b: 1 }, 'SELECT 1 B'],
    [{}, 'SELECT 1 notC'],
    [{ c: 1 }, 'SELECT 1 C'],
  ])('with %j gives %s', (p, expected) => {
    expect(render(q, p as Record<string, MetaValue>).text).toBe(expected);
  });

  it('treats a present parameter as existing whatever its value, even null or false', () => {
    expect(render(`<? if exists("x") ?>yes<? endif ?>`, { x: null }).text).toBe('yes');
    expect(render(`<? if exists("x") ?>yes<? endif ?>`, { x: false }).text).toBe('yes');
  });

  it('combines tests with and/or, and binding tighter than or, left to right', () => {
    const q2 = `<? if exists("a") and not exists("b") or exists("c") ?>T<? else ?>F<? endif ?>`;
    expect(render(q2, { a: 1 }).text).toBe('T');
    expect(render(q2, { a: 1, b: 1 }).text).toBe('F');
    expect(render(q2, { b: 1, c: 1 }).text).toBe('T');
    expect(render(q2, {}).text).toBe('F');
    // a or b and c  ==  a or (b and c)
    const q3 = `<? if exists("a") OR exists("b") AND exists("c") ?>T<? else ?>F<? endif ?>`;
    expect(render(q3, { a: 1 }).text).toBe('T');
    expect(render(q3, { b: 1 }).text).toBe('F');
    expect(render(q3, { b: 1, c: 1 }).text).toBe('T');
    // Parentheses group.
    const q4 = `<? if (exists("a") or exists("b")) and exists("c") ?>T<? else ?>F<? endif ?>`;
    expect(render(q4, { a: 1 }).text).toBe('F');
    expect(render(q4, { a: 1, c: 1 }).text).toBe('T');
    expect(render(`<? if not not exists("a") ?>T<? endif ?>`, { a: 1 }).text).toBe('T');
  });

  it('follows OpenRPT: value() is never true, literal() only for the value "true"', () => {
    const q2 = `<? if value("x") ?>V<? elseif literal("x") ?>L<? else ?>-<? endif ?>`;
    expect(render(q2, { x: true }).text).toBe('L');
    expect(render(q2, { x: 'true' }).text).toBe('L');
    expect(render(q2, { x: 'TRUE' }).text).toBe('-');
    expect(render(q2, { x: 1 }).text).toBe('-');
    expect(render(q2, {}).text).toBe('-');
    expect(render(`<? if not value("x") ?>N<? endif ?>`, { x: true })).toEqual({ text: 'N', values: [] });
  });

  it('matches parameter names with reExists, and accepts the issue’s name reExp', () => {
    const q2 = `<? if reExists("^char_id_") ?>R<? else ?>-<? endif ?><? if reexp('list$') ?>L<? endif ?>`;
    expect(render(q2, { char_id_text_list: [1] }).text).toBe('RL');
    expect(render(q2, { other: 1 }).text).toBe('-');
  });

  it('prints a test used on its own as a boolean constant', () => {
    expect(render(`SELECT <? exists("a") ?>, <? exists("b") ?>`, { a: 1 }).text).toBe('SELECT true, false');
  });
});

describe('foreach', () => {
  const inList = `SELECT * FROM t WHERE id IN (<? foreach("ids") ?><? if not isfirst("ids") ?>, <? endif ?><? value("ids") ?><? endforeach ?>)`;

  it('builds an IN list with isfirst commas', () => {
    const r = render(inList, { ids: [3, 1, 4] });
    expect(r.text).toBe('SELECT * FROM t WHERE id IN ($1::integer, $2::integer, $3::integer)');
    expect(r.values).toEqual([3, 1, 4]);
  });

  it('builds the same list with islast', () => {
    const q = `(<? foreach("ids") ?><? value("ids") ?><? if not islast("ids") ?>,<? endif ?><? endforeach ?>)`;
    expect(render(q, { ids: ['a', 'b'] })).toEqual({ text: '($1,$2)', values: ['a', 'b'] });
  });

  it('repeats zero times for a scalar or a missing parameter', () => {
    expect(render(inList, { ids: 5 }).text).toBe('SELECT * FROM t WHERE id IN ()');
    expect(render(inList, {}).text).toBe('SELECT * FROM t WHERE id IN ()');
  });

  it('answers isfirst/islast outside a loop as OpenRPT did', () => {
    const q = `<? if isfirst("x") ?>F<? endif ?><? if islast("x") ?>L<? endif ?>`;
    expect(render(q, { x: [1] }).text).toBe('FL');
    expect(render(q, { x: [1, 2] }).text).toBe('F');
    expect(render(q, { x: 1 }).text).toBe('F');
    expect(render(q, {}).text).toBe('F');
  });

  it('nests: if inside foreach inside if, and a loop inside a loop', () => {
    const q = `<? if exists("on") ?><? foreach("a") ?>[<? if islast("a") ?>last:<? endif ?><? foreach("b") ?><? value("a") ?><? value("b") ?><? endforeach ?>]<? endforeach ?><? endif ?>`;
    const r = render(q, { on: true, a: ['x', 'y'], b: [1, 2] });
    expect(r.text).toBe('[$1$2::integer$1$3::integer][last:$4$2::integer$4$3::integer]');
    expect(r.values).toEqual(['x', 1, 2, 'y']);
    expect(render(q, { a: ['x'], b: [1] }).text).toBe('');
  });

  it('continues and breaks, also out of several loops', () => {
    const skip = `<? foreach("n") ?><? if literal("n") ?><? continue ?><? endif ?>(<? value("n") ?>)<? endforeach ?>`;
    expect(render(skip, { n: ['a', 'true', 'b'] })).toEqual({ text: '($1)($2)', values: ['a', 'b'] });
    const stop = `<? foreach("n") ?><? if literal("n") ?><? BREAK ?><? endif ?>(<? value("n") ?>)<? endforeach ?>.`;
    expect(render(stop, { n: ['a', 'true', 'b'] })).toEqual({ text: '($1).', values: ['a'] });
    const outer = `<? foreach("o") ?>{<? foreach("i") ?><? if literal("i") ?><? break 2 ?><? endif ?><? literal("o") ?><? literal("i") ?> <? endforeach ?>}<? endforeach ?>.`;
    expect(render(outer, { o: ['A', 'B'], i: ['1', 'true', '3'] }).text).toBe('{A1 .');
    const cont = `<? foreach("o") ?>{<? foreach("i") ?><? if literal("i") ?><? continue(2) ?><? endif ?><? literal("o") ?><? literal("i") ?> <? endforeach ?>}<? endforeach ?>.`;
    expect(render(cont, { o: ['A', 'B'], i: ['1', 'true', '3'] }).text).toBe('{A1 {B1 .');
  });

  it('restores the outer position when a loop over the same list nests', () => {
    const q = `<? foreach("l") ?><? literal("l") ?>:<? foreach("l") ?><? literal("l") ?><? endforeach ?>/<? literal("l") ?> <? endforeach ?>`;
    expect(render(q, { l: ['a', 'b'] }).text).toBe('a:ab/a b:ab/b');
  });
});

describe('scanning', () => {
  it('finds tags inside quoted text too, as xTuple did, so a stray quote in a branch not taken hides nothing', () => {
    const r = render(`SELECT 'a<? literal("x") ?>b', x FROM t WHERE 1=1 <? if exists("no") ?> AND n = 'O'Brien <? endif ?> AND y = <? value("x") ?>`, {
      x: 1,
    });
    expect(r.text).toBe(`SELECT 'a1b', x FROM t WHERE 1=1 AND y = $1::integer`);
    expect(r.values).toEqual([1]);
  });

  it('turns each comment of the bound text into one space, dropping a placeholder inside, and trims', () => {
    const r = bindMetaSql(
      parseMetaSql(`-- Name: q\n  SELECT 1/* x <? value("a") ?> /* nested */ still */+2, <? value("b") ?> -- end <? value("a") ?>\n`),
      params({ a: 1, b: 2 }),
    );
    expect(tv(r)).toEqual({ text: 'SELECT 1 +2, $1::integer', values: [2] });
  });

  it('keeps quoted text, dollar-quoted bodies, casts and identifiers with $ intact', () => {
    const r = render(
      `SELECT 'it''s -- no comment; no end', "a;b", E'\\'; x', $$ ; -- not a comment $$, $fn$ 'x' $fn$, NULL::date, x::text, col$1, <? value("a") ?>::int`,
      { a: 5 },
    );
    expect(r.text).toBe(`SELECT 'it''s -- no comment; no end', "a;b", E'\\'; x', $$ ; -- not a comment $$, $fn$ 'x' $fn$, NULL::date, x::text, col$1, $1::integer::int`);
  });

  it('splits statements at top-level semicolons and numbers each statement\'s placeholders from $1', () => {
    const r = bindMetaSql(
      parseMetaSql(`SELECT f(<? value("a") ?>, <? value("b") ?>);\n-- two;\nSELECT * FROM t WHERE b = <? value("b") ?> AND c = ';' ;  ;`),
      params({ a: 1, b: 'x' }),
    );
    expect(r.statements).toEqual([
      { text: 'SELECT f($1::integer, $2)', values: [1, 'x'] },
      { text: `SELECT * FROM t WHERE b = $1 AND c = ';'`, values: ['x'] },
    ]);
    expect(tv(r)).toEqual({ text: `SELECT * FROM t WHERE b = $1 AND c = ';'`, values: ['x'] });
  });

  it('closes a block left open at the end of the text, as xTuple does, with a warning', () => {
    const t = parseMetaSql(`SELECT 1\n<? if exists("a") ?>\n, 2\n<? else ?>\n<? foreach("l") ?>, <? value("l") ?>`, 'open-query');
    expect(t.warnings).toEqual([
      'MetaSQL "open-query" line 5: <? foreach("l") ?> has no matching <? endforeach ?>; it is closed at the end of the text, as xTuple does',
      'MetaSQL "open-query" line 2: <? if exists("a") ?> has no matching <? endif ?>; it is closed at the end of the text, as xTuple does',
    ]);
    expect(squash(bindMetaSql(t, params({ a: 1 })).text)).toBe('SELECT 1 , 2');
    expect(tv(bindMetaSql(t, params({ l: [3, 4] })))).toEqual({ text: 'SELECT 1\n\n, $1::integer, $2::integer', values: [3, 4] });
    const warned: string[] = [];
    renderMetaSql(`SELECT 1 <? if exists("a") ?>`, params(), 'q', { warn: (m) => warned.push(m) });
    expect(warned).toHaveLength(1);
  });

  it('refuses a query that has placeholders of its own', () => {
    const e = syntaxError(`SELECT *\nFROM t WHERE a = $1 AND b = <? value("b") ?>`);
    expect(e.line).toBe(2);
    expect(e.tag).toBe('$1');
    expect(e.message).toBe(
      'MetaSQL "bad-query" line 2: the query has a placeholder of its own ($1); parameters must come from <? value("name") ?>',
    );
  });

  it('refuses an unclosed tag; leaves unclosed quotes and comments to PostgreSQL', () => {
    expect(syntaxError(`SELECT <? value("a")`).message).toContain('never closed with ?>');
    expect(render(`SELECT 'abc`).text).toBe(`SELECT 'abc`);
    expect(render(`SELECT 1 /* abc`).text).toBe(`SELECT 1`);
  });
});

describe('syntax errors name the query, the line and the tag', () => {
  it.each([
    ['unknown function', `SELECT 1\n<? valu("a") ?>`, 2, '<? valu("a") ?>', 'is not a MetaSQL tag or function'],
    ['unknown function in a condition', `SELECT 1\n<? if exist("a") ?>x<? endif ?>`, 2, '<? if exist("a") ?>', '"exist" is not a MetaSQL function'],
    ['empty tag', `SELECT <? ?>`, 1, '<? ?>', 'the tag is empty'],
    ['missing argument', `SELECT\n\n<? value() ?>`, 3, '<? value() ?>', 'needs a parameter name'],
    ['missing argument, bare', `SELECT <? literal ?>`, 1, '<? literal ?>', 'needs a parameter name'],
    ['missing condition', `<? if ?>x<? endif ?>`, 1, '<? if ?>', 'needs a condition'],
    ['not without a test', `<? if not ?>x<? endif ?>`, 1, '<? if not ?>', 'missing or incomplete'],
    ['dangling and', `<? if exists("a") and ?>x<? endif ?>`, 1, '<? if exists("a") and ?>', 'missing or incomplete'],
    ['junk after a condition', `<? if exists("a") exists("b") ?>x<? endif ?>`, 1, '<? if exists("a") exists("b") ?>', 'after the condition'],
    ['foreach without a quoted name', `<? foreach(ids) ?>x<? endforeach ?>`, 1, '<? foreach(ids) ?>', 'quoted list parameter'],
    ['bad regular expression', `<? if reExists("(") ?>x<? endif ?>`, 1, '<? if reExists("(") ?>', 'not a valid regular expression'],
    ['else if in two words', `<? if exists("a") ?>x<? else if exists("b") ?>y<? endif ?>`, 1, '<? else if exists("b") ?>', '"elseif" as one word'],
    ['endif without if', `SELECT 1\n<? endif ?>`, 2, '<? endif ?>', '<? endif ?> without a matching <? if ?>'],
    ['else without if', `<? else ?>`, 1, '<? else ?>', '<? else ?> without a matching <? if ?>'],
    ['elseif without if', `x\n<? elseif exists("a") ?>`, 2, '<? elseif exists("a") ?>', 'without a matching <? if ?>'],
    ['endforeach without foreach', `<? if exists("a") ?>\n<? endforeach ?>`, 2, '<? endforeach ?>', 'without a matching <? foreach ?> (the open block is <? if exists("a") ?> from line 1)'],
    ['endif closing a foreach', `<? foreach("l") ?>\n<? endif ?>`, 2, '<? endif ?>', 'without a matching <? if ?>'],
    ['elseif after else', `<? if exists("a") ?>1<? else ?>2\n<? elseif exists("b") ?>3<? endif ?>`, 2, '<? elseif exists("b") ?>', 'after the <? else ?>'],
    ['break outside a loop', `SELECT\n<? break ?>`, 2, '<? break ?>', 'outside a <? foreach ?>'],
    ['break too deep', `<? foreach("a") ?><? continue 2 ?><? endforeach ?>`, 1, '<? continue 2 ?>', 'inside only 1'],
  ])('%s', (_what, source, line, tag, words) => {
    const e = syntaxError(source);
    expect(e.line).toBe(line);
    expect(e.tag).toBe(tag);
    expect(e.queryName).toBe('bad-query');
    expect(e.message).toContain(`MetaSQL "bad-query" line ${line}: `);
    expect(e.message).toContain(words);
  });

  it('reads like the issue’s example', () => {
    const e = syntaxError(`${'\n'.repeat(11)}<? endif ?>`, 'arOpenItems-detail');
    expect(e.message).toBe('MetaSQL "arOpenItems-detail" line 12: <? endif ?> without a matching <? if ?>');
  });

  it('leaves the name out when the query has none', () => {
    expect(syntaxError('<? endif ?>', null).message).toBe('MetaSQL line 1: <? endif ?> without a matching <? if ?>');
  });

  it('shows a tag that spans lines on one line, at the line where it starts', () => {
    const e = syntaxError(`SELECT\n<? if\n   nope("a") ?>x<? endif ?>`);
    expect(e.line).toBe(2);
    expect(e.tag).toBe('<? if nope("a") ?>');
  });

  it('tolerates a missing ) at the end of a condition, as OpenRPT did (incidents-detail has one)', () => {
    expect(render(`<? if exists("a" ?>A<? endif ?>`, { a: 1 }).text).toBe('A');
  });
});

describe('legacy queries (no <?)', () => {
  it('binds %N by position and $"name" lower-cased, never pasting', () => {
    const r = renderMetaSql(
      `SELECT * FROM cust WHERE cust_id = %2 AND cust_name = $"CustName" AND x = %1`,
      params({ first: "x'; DROP TABLE cust; --", custname: 'Acme' }),
    );
    expect(tv(r)).toEqual({ text: 'SELECT * FROM cust WHERE cust_id = $1 AND cust_name = $2 AND x = $3', values: ['Acme', 'Acme', "x'; DROP TABLE cust; --"] });
  });

  it('keeps a % not followed by a digit, and %0', () => {
    const r = bindLegacy(`SELECT 'a%' , x % 2, y %0, z LIKE 'ab%c' FROM t WHERE n = %1`, params({ n: 3 }));
    expect(tv(r)).toEqual({ text: `SELECT 'a%' , x % 2, y %0, z LIKE 'ab%c' FROM t WHERE n = $1::integer`, values: [3] });
  });

  it('turns a quoted token into a text placeholder, splitting a string around it', () => {
    const r = bindLegacy(`SELECT * FROM t WHERE a = '%1' AND b LIKE '%1%' AND c = E'x\\n%2' AND d = '$"Who"'`, params({ p: 5, q: 'z', who: 'me' }));
    expect(r.text).toBe(`SELECT * FROM t WHERE a = $1 AND b LIKE ($2::text || '%') AND c = (E'x\\n' || $3::text) AND d = $4`);
    expect(r.values).toEqual(['5', '5', 'z', 'me']);
  });

  it('binds a missing one as NULL and ignores tokens in comments and quoted identifiers', () => {
    const r = bindLegacy(`SELECT "%1" -- %2\nFROM t WHERE a = %3 /* $"x" */`, params({ a: 1 }));
    expect(tv(r)).toEqual({ text: 'SELECT "%1"  \nFROM t WHERE a = NULL', values: [] });
  });

  it('is chosen by renderMetaSql only when the text has no <?', () => {
    expect(renderMetaSql(`SELECT %1`, params({ a: 1 })).text).toBe('SELECT $1::integer');
    expect(renderMetaSql(`SELECT %1, <? value("a") ?>`, params({ a: 1 })).text).toBe('SELECT %1, $1::integer');
  });
});

describe('mqlHeader', () => {
  it('reads group, name and notes with continuation lines', () => {
    const src = `-- Group: arOpenItems\n-- Name:  detail \n-- Notes: used by arWorkBench,\n--        dspAROpenItems\nSELECT 1 -- Name: not this\n`;
    expect(mqlHeader(src)).toEqual({ group: 'arOpenItems', name: 'detail', notes: 'used by arWorkBench, dspAROpenItems' });
  });

  it('gives nulls for a query without a header', () => {
    expect(mqlHeader('SELECT 1;')).toEqual({ group: null, name: null, notes: null });
    expect(mqlHeader('-- just a comment\nSELECT 1;')).toEqual({ group: null, name: null, notes: null });
  });
});

describe('binding is repeatable', () => {
  it('binds one parsed template many times with different parameters', () => {
    const t = parseMetaSql(`SELECT <? if exists("a") ?><? value("a") ?><? else ?>0<? endif ?>`, 'rep');
    expect(t.name).toBe('rep');
    expect(tv(bindMetaSql(t, params({ a: 'x' })))).toEqual({ text: 'SELECT $1', values: ['x'] });
    expect(tv(bindMetaSql(t, params()))).toEqual({ text: 'SELECT 0', values: [] });
    expect(tv(bindMetaSql(t, params({ a: 'y' })))).toEqual({ text: 'SELECT $1', values: ['y'] });
  });
});
