/**
 * In-memory rows shaped like each fixture's queries (column names read from their <sql>), for rendering the
 * real definitions without an xTuple database.
 */
import type { Row } from '../../../src/reports/openrpt';
import { makePng } from './helpers';
import { uuencode } from '../../../src/reports/openrpt/images';

export const LOGO_UU = uuencode(makePng(40, 20, [200, 30, 30]), 'logo.png');

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

export interface AgingLine {
  cust: string;
  doc: string;
  cur: number;
  thirty: number;
  sixty: number;
  ninety: number;
  plus: number;
}

export const AGING_LINES: AgingLine[] = [
  { cust: 'C100', doc: 'INV-1001', cur: 100.25, thirty: 10, sixty: 1, ninety: 2, plus: 3 },
  { cust: 'C100', doc: 'INV-1002', cur: 200, thirty: 20, sixty: 0, ninety: 0, plus: 1000 },
  { cust: 'C200', doc: 'INV-2001', cur: 5, thirty: 0, sixty: 7.5, ninety: 0, plus: 0 },
  { cust: 'C200', doc: 'INV-2002', cur: 0, thirty: 44.4, sixty: 0, ninety: 3, plus: 0 },
  { cust: 'C200', doc: 'INV-2003', cur: 1234.5, thirty: 0, sixty: 0, ninety: 0, plus: 0.1 },
  { cust: 'C300', doc: 'INV-3001', cur: 9, thirty: 8, sixty: 7, ninety: 6, plus: 5 },
];

export const agingTotal = (l: AgingLine): number => l.cur + l.thirty + l.sixty + l.ninety + l.plus;

export function agingRows(): Row[] {
  return AGING_LINES.map((l) => ({
    araging_docdate: '2026-10-01', araging_duedate: '2026-10-31', araging_ponumber: `PO-${l.doc}`, araging_docnumber: l.doc,
    araging_doctype: 'I', araging_cust_id: Number(l.cust.slice(1)), araging_cust_number: l.cust, araging_cust_name: `Customer ${l.cust}`,
    araging_terms_descrip: `Net 30 ${l.cust}`, araging_aropen_amount: agingTotal(l).toFixed(2),
    araging_cur_val: l.cur, araging_cur_amt: l.cur.toFixed(2), araging_thirty_val: l.thirty, araging_thirty_amt: l.thirty.toFixed(2),
    araging_sixty_val: l.sixty, araging_sixty_amt: l.sixty.toFixed(2), araging_ninety_val: l.ninety, araging_ninety_amt: l.ninety.toFixed(2),
    // plus_val arrives as numeric text, as node-postgres gives NUMERIC columns: totals must still add it.
    araging_plus_val: l.plus.toFixed(2), araging_plus_amt: l.plus.toFixed(2),
    araging_total_val: agingTotal(l), araging_total_amt: agingTotal(l).toFixed(2),
  }));
}

export function glRows(n: number): Row[] {
  let running = 0;
  return range(n).map((i) => {
    const debit = i % 2 === 0 ? 10 + i : 0;
    const credit = i % 2 === 1 ? 5 + i : 0;
    running += debit - credit;
    return {
      gltrans_id: i, transdate: `2026-01-${String((i % 28) + 1).padStart(2, '0')}`, gltrans_source: 'S/R', gltrans_doctype: 'IN',
      gltrans_docnumber: `GL-${String(i).padStart(4, '0')}`, invhist_docnumber: '', transnotes: `note ${i}`, account: `01-01-${1000 + i}-01`,
      f_debit: debit ? debit.toFixed(2) : '', debit_amt: debit, f_credit: credit ? credit.toFixed(2) : '', credit_amt: credit,
      balance_amt: debit - credit, running: debit - credit, f_posted: 'Yes', f_deleted: 'No', f_username: 'admin',
    };
  });
}

export function poRows(lines: number): Record<string, Row[]> {
  return {
    Head: [{
      pohead_number: 'PO-77001', f_orderdate: '2026-11-01', pohead_fob: 'Origin', pohead_shipvia: 'UPS Ground', terms_descrip: 'Net 30',
      vend_number: 'V1', vend_name: 'Acme Supply', warehous_descrip: 'Main WH', username: 'Pat Buyer', pohead_comments: 'Deliver to dock 4.',
      title: 'ORIGINAL',
    }],
    Detail: range(lines).map((i) => ({
      f_line: String(i + 1), item_number: `ITEM-${i + 1}`, poitem_vend_item_number: `VI-${i + 1}`, itemdescription: `Widget number ${i + 1}`,
      f_ordered: `${i + 1}.00`, itemuom: 'EA', f_price: '2.5000', f_extended: `${((i + 1) * 2.5).toFixed(2)}`, f_duedate: '2026-12-01',
      poitem_characteristics: '', poitem_comments: i === 1 ? 'Handle with care.' : '',
    })),
    Foot: [{ f_subtotal: '1,000.00', f_totalfreight: '15.00', f_tax: '80.00', f_totaldue: '1,095.00' }],
    Logo: [{ image_data: LOGO_UU }],
    Currency: [{ curr_symbol: '$' }],
    Address: [{ warehous_descrip: 'Main Warehouse', warehouse_address: '1 Main St\nSpringfield  IL  62701' }],
    ShipToAddress: [{ shipto_contact: 'Sam Receiver', vend_contact: 'Val Vendor', shipto_address: '9 Dock Rd\nShelbyville', vend_address: '5 Supply Ln\nCapital City', shipto_name: 'Main Warehouse' }],
  };
}

export function quoteRows(items: number): Record<string, Row[]> {
  const itemRows: Row[] = [];
  for (const i of range(items)) {
    // Line 2 carries two characteristics: two rows of one group.
    const chars = i === 1 ? [['Color', 'Blue'], ['Size', 'XL']] : [['Color', `Shade${i + 1}`]];
    for (const [name, value] of chars) {
      itemRows.push({
        quitem_linenumber: i + 1, item_number: `QI-${i + 1}`, item_descrip1: `Quoted item ${i + 1}`, uom_ordered: 'EA', uom_pricing: 'EA',
        warehous_code: 'WH1', f_ordered: `${i + 1}.00`, f_price: '10.0000', f_extprice: `${(10 * (i + 1)).toFixed(2)}`,
        quitem_memo: i === 0 ? 'First line memo' : '', quitem_custpn: `CPN-${i + 1}`, char_name: name, charass_value: value, one: 1,
      });
    }
  }
  return {
    head: [{
      quhead_number: 'Q-5001', quhead_shipvia: 'FedEx', f_orderdate: '2026-11-20', f_packdate: '2026-11-22', salesrep_name: 'Rita Rep',
      f_terms: 'N30 - Net 30', cust_number: 'CUST-9', quhead_billtoname: 'Billy Buyer', f_billtoaddress: '10 Bill St\nBilltown',
      f_shiptonum: 'S1', quhead_shiptoname: 'Shippy', f_shiptoaddress: '20 Ship St\nShiptown', saletype_code: 'RETAIL',
      quhead_custponumber: 'CPO-1', quhead_fob: 'Dest',
    }],
    notes: [{ quhead_ordercomments: 'Order comment line one.\nOrder comment line two.', quhead_shipcomments: 'Ship with care.' }],
    items: itemRows,
    totals: [{ one: 1, f_subtotal: '60.00', f_tax: '4.80', f_freight: '12.00', f_misc: '0.00', f_total: '76.80' }],
    logo: [{ image_data: LOGO_UU }],
    currency_info: [{ curr_name: 'US Dollar', curr_symbol: '$', curr_abbr: 'USD' }],
    address: [{ warehous_descrip: 'Quote WH', warehouse_address: '3 Quote Ave' }],
    contact_fax_phone: [{ cntct_fax: '555-0100', cntct_phone: '555-0199' }],
  };
}

export function creditMemoRows(lines: number): Record<string, Row[]> {
  return {
    GroupHead: [{
      cmhead_number: 'CM-42', docdate: '2026-11-02', cust_number: 'CUST-7', cust_name: 'Credit Customer', f_custaddr: '1 Bill Rd\nTown',
      cmhead_shipto_name: 'Ship Name', f_shiptoaddr: '2 Ship Rd\nCity', invcnumber: 'INV-9', cmhead_custponumber: 'PO-X',
      curr_symbol: '$', curr_name: 'US Dollar', rsncode_descrip: 'Damaged', remitto_name: 'Our Company', remitto_address1: '100 Corp Way',
      remitto_citystatezip: 'Metro  NY  10001', remitto_country: 'US', remitto_phone: '555-0000', cmhead_misc_descrip: 'misc',
      cmhead_comments: 'Thank you.',
    }],
    Detail: range(lines).map((i) => ({
      qtyreturned: `${i + 1}.00`, qtycredit: `${i + 1}.00`, uom_name: 'EA', item_number: `CMI-${i + 1}`, item_descrip1: `Credited item ${i + 1}`,
      item_descrip2: '', unitprice: '3.00', extprice: `${(3 * (i + 1)).toFixed(2)}`,
      cmitem_comments: i === 2 ? Array.from({ length: 12 }, (_, k) => `Comment line ${k + 1} for item three.`).join('\n') : '',
      rsncode_descrip: 'RMA',
    })),
    GroupFoot: [{ extprice: '999.00' }],
    GroupExtended: [{ tax: '1.00', misc: '2.00', freight: '3.00', totaldue: '1,005.00' }],
    logo: [{ image_data: LOGO_UU }],
  };
}

export function itemRows(n: number): Row[] {
  return range(n).map((i) => ({
    item_number: `ITM-${String(i).padStart(3, '0')}`, item_descrip1: `Item description ${i}`, item_descrip2: `second ${i}`, active: 'Yes',
    itemtype: 'Purchased', classcode_code: 'CC1', invuom: 'EA', priceuom: 'EA', shipuom: 'EA', capuom: 'EA', altcapuom: 'EA',
    capratio: '1.00', altcapratio: '1.00', priceratio: '1.00', shipratio: '1.00', prodweight: '0.50', packweight: '0.10', picklist: 'Yes',
    sold: 'Yes', exclusive: 'No', configured: 'No',
  }));
}

export function labelRows(n: number): Row[] {
  return range(n).map((i) => ({
    date: '2026-11-26', item_number: `LBL-${i + 1}`, item_descrip1: `Label item ${i + 1}`, location_name: `BIN-${i + 1}`, barcode: `LBL${i + 1}`,
  }));
}
