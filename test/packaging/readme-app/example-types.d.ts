// The docs' running example, as global types: a cart and its order total, and a quote that answers
// with a status. Shared by the snippet compiler (test/packaging/snippets.test.ts) and the README
// walkthrough's app (test/packaging/readme.test.ts), so both read the README against the same shapes.
interface CartLine { sku: string; price: number; qty: number; taxClass?: string }
interface Cart { id: string; customerId: string; region: string; lines: CartLine[]; coupon?: string }
interface OrderTotal {
  total: number;
  tax: number;
  lines: Array<{ sku: string; tax: number; amount: number }>;
  meta: { traceId: string; quotedAt?: string; node?: string };
}
type Total = OrderTotal;
/** A quote: an order total with the status the service answered. */
interface Reply extends OrderTotal { status: number }
/** A row of the audit log the README's `db` writes. */
interface AuditEntry { actor: string; action: string }
