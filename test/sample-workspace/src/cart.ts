import { type Cents, formatCents } from './money';

export interface Item {
  sku: string;
  name: string;
  unitPrice: Cents;
  quantity: number;
}

export interface Discount {
  code: string;
  /** Percentage off the subtotal, 0–100. */
  percent: number;
  /** The subtotal the cart must reach for the code to apply. */
  minimumSubtotal: Cents;
}

export class Cart {
  private readonly items = new Map<string, Item>();
  private discount: Discount | undefined;

  addItem(item: Item): void {
    const existing = this.items.get(item.sku);
    if (existing) {
      existing.quantity += item.quantity;
    } else {
      this.items.set(item.sku, { ...item });
    }
  }

  subtotal(): Cents {
    let sum = 0;
    for (const item of this.items.values()) {
      sum += item.unitPrice * item.quantity;
    }
    return sum;
  }

  applyDiscount(discount: Discount): boolean {
    if (this.subtotal() >= discount.minimumSubtotal) {
      this.discount = discount;
      return true;
    }
    return false;
  }

  total(): Cents {
    const subtotal = this.subtotal();
    if (!this.discount) return subtotal;
    return subtotal - Math.round((subtotal * this.discount.percent) / 100);
  }

  receipt(): string {
    const lines = [...this.items.values()].map(
      (item) => `${item.quantity} × ${item.name.padEnd(20)} ${formatCents(item.unitPrice * item.quantity)}`,
    );
    lines.push(`Total: ${formatCents(this.total())}`);
    return lines.join('\n');
  }
}
