/**
 * Mistakes found after the schema's own checks (rules that join keys, or need the environment), gathered so that
 * one run of the program names every one of them.
 */
export class Problems {
  readonly list: string[] = [];

  add(message: string): void {
    this.list.push(message);
  }

  /** Runs a check written as a throwing function and records its message instead. */
  guard<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      this.add((err as Error).message);
      return undefined;
    }
  }
}
