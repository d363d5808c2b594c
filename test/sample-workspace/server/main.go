// Serves the shop's prices: GET /prices and GET /prices/{sku}.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"sync"
)

type Price struct {
	SKU   string `json:"sku"`
	Cents int    `json:"cents"`
}

type PriceList struct {
	mu     sync.RWMutex
	prices map[string]int
}

func NewPriceList() *PriceList {
	return &PriceList{prices: map[string]int{"APL-1": 45, "BRD-2": 250, "MLK-1": 119, "CHS-3": 699}}
}

func (p *PriceList) Get(sku string) (Price, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	cents, ok := p.prices[sku]
	return Price{SKU: sku, Cents: cents}, ok
}

func (p *PriceList) All() []Price {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]Price, 0, len(p.prices))
	for sku, cents := range p.prices {
		out = append(out, Price{SKU: sku, Cents: cents})
	}
	return out
}

func main() {
	prices := NewPriceList()
	http.HandleFunc("GET /prices", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(prices.All())
	})
	http.HandleFunc("GET /prices/{sku}", func(w http.ResponseWriter, r *http.Request) {
		price, ok := prices.Get(r.PathValue("sku"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(price)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8090", nil))
}
