import { JobInputError } from '../../src/errors';
import { parseParams } from '../../src/jobs/params';

const p = (name: string, value: string | null, type: string | null, order = 1) => ({ name, value, type, order });

describe('parseParams', () => {
  it('converts by Qt type name', () => {
    const m = parseParams(7, [p('id', '42', 'int'), p('amt', '1.5', 'double'), p('flag', 'true', 'bool'), p('d', '2026-02-28', 'QDate'), p('s', 'x', 'QString')]);
    expect([...m.entries()]).toEqual([['id', 42], ['amt', 1.5], ['flag', true], ['d', '2026-02-28'], ['s', 'x']]);
  });

  it('keeps unknown types as text and NULL as null', () => {
    const m = parseParams(7, [p('x', 'abc', 'QVariantList'), p('y', null, 'int')]);
    expect(m.get('x')).toBe('abc');
    expect(m.get('y')).toBeNull();
  });

  it.each([
    ['int', 'abc', 'is not a whole number'],
    ['int', '1.5', 'is not a whole number'],
    ['double', 'x', 'is not a number'],
    ['bool', 'maybe', 'is not true or false'],
    ['QDate', '2026-02-30', 'is not a date'],
    ['QDateTime', 'tomorrow', 'is not a date and time'],
  ])('refuses %s %p, naming the job and the parameter', (type, value, words) => {
    expect(() => parseParams(12, [p('invchead_id', value, type)])).toThrow(JobInputError);
    expect(() => parseParams(12, [p('invchead_id', value, type)])).toThrow(
      new RegExp(`^job 12: parameter "invchead_id" has type ${type} but its value .* ${words}`),
    );
  });

  it('refuses a parameter without a name', () => {
    expect(() => parseParams(3, [p('', '1', 'int', 2)])).toThrow('job 3: batchparam #2 has no name');
  });
});
