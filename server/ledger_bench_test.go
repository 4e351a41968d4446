package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/store"
)

// BenchmarkLedgerProof measures $ledger-proof in process over a ledger of
// 20,000 versions: token check, version read, opening, leaf, inclusion
// proof and response.
func BenchmarkLedgerProof(b *testing.B) {
	const n = 20000
	ts, _, st := newLedgerStore(b)
	ctx := context.Background()
	for i := 0; i < n; i += 500 {
		err := st.Update(ctx, func(tx store.Tx) error {
			for j := i; j < i+500; j++ {
				res, out := fhir.Parse([]byte(`{"resourceType":"Patient","id":"p`+strconv.Itoa(j)+`","active":true}`), fhir.Limits{})
				if out.HasErrors() {
					b.Fatal(out)
				}
				if _, err := tx.Put(res, 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := st.WaitCheckpoint(ctx, n-1); err != nil {
		b.Fatal(err)
	}
	h := ts.Config.Handler
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i = (i*7919 + 13) % n
			req := httptest.NewRequest("GET", "/fhir/Patient/p"+strconv.Itoa(i)+"/_history/1/$ledger-proof", nil)
			req.Header.Set("Authorization", "Bearer "+ts.token)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}
