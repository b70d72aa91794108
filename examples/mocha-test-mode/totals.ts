/**
 * The code under test in the mocha-test-mode example: an order total as it has always been
 * computed, a behaviour-preserving refactor of it, and a rewrite that changes how tax is rounded.
 */

export interface Line {
  sku: string;
  qty: number;
  unitPrice: number;
  taxRate: number;
}

export interface Total {
  subtotal: number;
  tax: number;
  total: number;
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

/**
 * The old total: tax computed on the whole cart and rounded once.
 *
 * @example
 * legacyTotal([{ sku: "A", qty: 3, unitPrice: 3.33, taxRate: 0.19 }]); // → { subtotal: 9.99, tax: 1.9, total: 11.89 }
 */
export function legacyTotal(lines: readonly Line[]): Total {
  let subtotal = 0;
  let tax = 0;
  for (const line of lines) {
    subtotal += line.qty * line.unitPrice;
    tax += line.qty * line.unitPrice * line.taxRate;
  }
  return { subtotal: round2(subtotal), tax: round2(tax), total: round2(round2(subtotal) + round2(tax)) };
}

/**
 * A refactor that must not change behaviour: the same arithmetic, written with `reduce`.
 *
 * @example
 * refactoredTotal([{ sku: "A", qty: 3, unitPrice: 3.33, taxRate: 0.19 }]); // same as legacyTotal
 */
export function refactoredTotal(lines: readonly Line[]): Total {
  const subtotal = round2(lines.reduce((sum, l) => sum + l.qty * l.unitPrice, 0));
  const tax = round2(lines.reduce((sum, l) => sum + l.qty * l.unitPrice * l.taxRate, 0));
  return { subtotal, tax, total: round2(subtotal + tax) };
}

/**
 * A rewrite that rounds tax per line: a different total for some carts, which a test in
 * Scientist's test mode turns into a failing test instead of a silent change.
 *
 * @example
 * const cart = [
 *   { sku: "TEA", qty: 2, unitPrice: 4.99, taxRate: 0.07 },
 *   { sku: "MUG", qty: 1, unitPrice: 12.5, taxRate: 0.19 },
 *   { sku: "BAG", qty: 3, unitPrice: 0.99, taxRate: 0.07 },
 * ];
 * perLineTaxTotal(cart); // → { subtotal: 25.45, tax: 3.29, total: 28.74 }; legacyTotal says tax 3.28, total 28.73
 */
export function perLineTaxTotal(lines: readonly Line[]): Total {
  const subtotal = round2(lines.reduce((sum, l) => sum + l.qty * l.unitPrice, 0));
  const tax = round2(lines.reduce((sum, l) => sum + round2(l.qty * l.unitPrice * l.taxRate), 0));
  return { subtotal, tax, total: round2(subtotal + tax) };
}
