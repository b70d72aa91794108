/** In-memory clients for the guard tests: every real call is counted, so a leak is visible. */

/** A mailer whose state lives in a `#private` field: called with the Proxy as `this`, it would throw. */
export class Mailer {
  #sent: unknown[] = [];
  calls = 0;
  async sendMail(message: { to: string; subject: string }): Promise<{ messageId: string }> {
    this.calls++;
    this.#sent.push(message);
    return { messageId: `real-${this.#sent.length}` };
  }
  sendSync(to: string): string {
    this.calls++;
    this.#sent.push(to);
    return `sync-${to}`;
  }
  /** A read. */
  async count(): Promise<number> {
    return this.#sent.length;
  }
}

export class Charges {
  #owner: Payments;
  constructor(owner: Payments) {
    this.#owner = owner;
  }
  async create(params: { amount: number; meta?: { tag: string } }): Promise<{ id: string; amount: number }> {
    this.#owner.calls.push(`charges.create:${params.amount}`);
    return { id: `ch_${params.amount}`, amount: params.amount };
  }
  async retrieve(id: string): Promise<{ id: string }> {
    this.#owner.reads++;
    return { id };
  }
}

class Refunds {
  constructor(private readonly owner: Payments) {}
  async create(id: string): Promise<string> {
    this.owner.calls.push(`refunds.create:${id}`);
    return `re_${id}`;
  }
  async cancel(id: string): Promise<string> {
    this.owner.calls.push(`refunds.cancel:${id}`);
    return `cancelled_${id}`;
  }
}

/** A payments client with nested resources, like Stripe's. */
export class Payments {
  calls: string[] = [];
  reads = 0;
  readonly charges = new Charges(this);
  readonly refunds = new Refunds(this);
  region = "eu";
}
