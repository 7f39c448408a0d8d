import { matchesAny, patternProblem } from '../../src/settings/patterns';

describe('exclusion patterns', () => {
  it.each([
    ['bob@example.com', 'bob@example.com', true],
    ['bob@example.com', 'BOB@Example.com', true],
    ['bob@example.com', 'rob@example.com', false],
    ['example.com', 'anyone@example.com', true],
    ['example.com', 'anyone@mail.example.com', false],
    ['*@example.com', 'x@example.com', true],
    ['*.example.org', 'x@mail.example.org', true],
    ['*.example.org', 'x@example.org', false],
    ['noreply@*', 'noreply@shop.example', true],
    ['noreply@*', 'reply@shop.example', false],
    ['*-bounce@*', 'list-bounce@lists.example', true],
  ])('%s matching %s is %s', (pattern, address, expected) => {
    expect(patternProblem(pattern)).toBeNull();
    expect(matchesAny(address, [pattern])).toBe(expected);
  });

  it.each([
    ['', 'is empty'],
    ['bob @example.com', 'contains spaces'],
    ['a@b@c', 'more than one "@"'],
    ['@example.com', 'invalid mailbox part'],
    ['bob@', 'invalid domain part'],
    ['localhost', 'neither an address'],
    ['**@x.com', '"**"'],
  ])('refuses %p (%s)', (pattern, problem) => {
    expect(patternProblem(pattern)).toContain(problem);
  });
});
