"""Summarise a CSV of sales: python3 tools/sales_report.py data/sales.csv"""
import csv
import sys
from collections import defaultdict
from dataclasses import dataclass


@dataclass
class Sale:
    day: str
    sku: str
    quantity: int
    unit_price_cents: int

    @property
    def revenue_cents(self) -> int:
        return self.quantity * self.unit_price_cents


def read_sales(path: str) -> list[Sale]:
    with open(path, newline="") as f:
        return [
            Sale(row["day"], row["sku"], int(row["quantity"]), int(row["unit_price_cents"]))
            for row in csv.DictReader(f)
        ]


def median(values: list[int]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2 == 1:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2


def revenue_by_sku(sales: list[Sale]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for sale in sales:
        totals[sale.sku] += sale.revenue_cents
    return dict(totals)


def main(path: str) -> None:
    sales = read_sales(path)
    by_sku = revenue_by_sku(sales)
    for sku, cents in sorted(by_sku.items(), key=lambda kv: -kv[1]):
        print(f"{sku:10} {cents / 100:10.2f}")
    print(f"median sale: {median([s.revenue_cents for s in sales]) / 100:.2f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/sales.csv")
