/**
 * Label sheets for Labels mode (openrpt-reference §5.10). OpenRPT reads them from the `labeldef` table when it
 * can and falls back to this built-in list (`common/labelsizeinfo.cpp`); all lengths in 1/100 inch.
 */
export interface LabelSheet {
  name: string;
  paper: string;
  columns: number;
  rows: number;
  width: number;
  height: number;
  startX: number;
  startY: number;
  xGap: number;
  yGap: number;
}

const BUILT_IN: readonly LabelSheet[] = [
  { name: 'Avery 5263', paper: 'Letter', columns: 2, rows: 5, width: 400, height: 200, startX: 25, startY: 50, xGap: 0, yGap: 0 },
  { name: 'Avery 5264', paper: 'Letter', columns: 2, rows: 3, width: 400, height: 333, startX: 25, startY: 75, xGap: 0, yGap: 0 },
  { name: 'Avery 8460', paper: 'Letter', columns: 3, rows: 10, width: 262, height: 100, startX: 32, startY: 50, xGap: 0, yGap: 0 },
  { name: 'CILS ALP1-9200-1', paper: 'Letter', columns: 3, rows: 7, width: 200, height: 100, startX: 62, startY: 62, xGap: 81, yGap: 50 },
];

export function labelSheetByName(name: string): LabelSheet | null {
  return BUILT_IN.find((l) => l.name === name) ?? null;
}

export function builtInLabelNames(): string[] {
  return BUILT_IN.map((l) => l.name);
}
