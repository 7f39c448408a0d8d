/**
 * Paper sizes by name, in 1/100 inch, as OpenRPT's PageSizeInfo table lists them (`common/pagesizeinfo.cpp`).
 * The values are OpenRPT's own roundings (A4 is 826 x 1170), kept so that layouts fit exactly as they did.
 */
const PAGE_SIZES: ReadonlyMap<string, readonly [number, number]> = new Map([
  ['A0', [3311, 4681]],
  ['A1', [2340, 3311]],
  ['A2', [1654, 2340]],
  ['A3', [1170, 1654]],
  ['A4', [826, 1170]],
  ['A5', [583, 826]],
  ['A6', [413, 583]],
  ['A7', [291, 413]],
  ['A8', [205, 291]],
  ['A9', [146, 205]],
  ['B0', [4055, 5732]],
  ['B1', [2866, 4055]],
  ['B2', [2028, 2866]],
  ['B3', [1433, 2028]],
  ['B4', [1013, 1433]],
  ['B5', [717, 1013]],
  ['B6', [504, 717]],
  ['B7', [358, 504]],
  ['B8', [252, 358]],
  ['B9', [177, 252]],
  ['B10', [126, 177]],
  ['C5E', [642, 902]],
  ['Comm10E', [413, 950]],
  ['DLE', [433, 866]],
  ['Executive', [750, 1000]],
  ['Folio', [827, 1300]],
  ['Ledger', [1701, 1098]],
  ['Legal', [850, 1400]],
  ['Letter', [850, 1100]],
  ['Tabloid', [1098, 1701]],
]);

/** Portrait size of a named paper; an unknown name gives Letter, as OpenRPT does. */
export function pageSizeByName(name: string): readonly [number, number] {
  return PAGE_SIZES.get(name) ?? [850, 1100];
}
