/** A realistic cart and the order-total computation the caller-path benchmarks wrap. */

export interface BenchLine {
  sku: string;
  qty: number;
  unitPrice: number;
  taxClass: "standard" | "reduced" | "exempt";
  discounts: Array<{ code: string; amount: number }>;
  product: { name: string; category: string };
}

export interface BenchCart {
  id: string;
  region: string;
  customer: { id: string; tier: string; since: Date };
  coupons: string[];
  lines: BenchLine[];
  createdAt: Date;
}

export interface BenchTotal {
  lines: Array<{ sku: string; net: number; tax: number; total: number; display: string }>;
  subtotal: number;
  tax: number;
  discount: number;
  total: number;
  display: string;
}

const TAX: Record<BenchLine["taxClass"], number> = { standard: 0.19, reduced: 0.07, exempt: 0 };

export function makeCart(lineCount = 20): BenchCart {
  const lines: BenchLine[] = [];
  for (let i = 0; i < lineCount; i++) {
    lines.push({
      sku: `SKU-${1000 + i}`,
      qty: 1 + (i % 3),
      unitPrice: 3.5 + ((i * 7) % 40) + 0.99,
      taxClass: i % 5 === 0 ? "exempt" : i % 3 === 0 ? "reduced" : "standard",
      discounts: i % 4 === 0 ? [{ code: "BULK", amount: 0.5 }] : [],
      product: { name: `Product ${i}`, category: i % 2 === 0 ? "grocery" : "household" },
    });
  }
  return {
    id: "cart-1",
    region: "DE-BY",
    customer: { id: "c-42", tier: "gold", since: new Date("2019-04-01T00:00:00Z") },
    coupons: ["WELCOME5"],
    lines,
    createdAt: new Date("2026-11-26T10:00:00Z"),
  };
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

/** The sync control: a few microseconds of work — per-line totals, tax by class, display strings. */
export function orderTotal(cart: BenchCart): BenchTotal {
  let subtotal = 0;
  let tax = 0;
  let discount = 0;
  const lines: BenchTotal["lines"] = [];
  for (const line of cart.lines) {
    const gross = line.qty * line.unitPrice;
    let lineDiscount = 0;
    for (const d of line.discounts) lineDiscount += d.amount * line.qty;
    const net = round2(gross - lineDiscount);
    const lineTax = round2(net * TAX[line.taxClass]);
    const lineTotal = round2(net + lineTax);
    lines.push({ sku: line.sku, net, tax: lineTax, total: lineTotal, display: `${line.product.name}: ${lineTotal.toFixed(2)} EUR` });
    subtotal += gross;
    discount += lineDiscount;
    tax += lineTax;
  }
  if (cart.coupons.includes("WELCOME5")) discount += 5;
  const total = round2(subtotal - discount + tax);
  return { lines, subtotal: round2(subtotal), tax: round2(tax), discount: round2(discount), total, display: `${total.toFixed(2)} EUR` };
}
