package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkRead measures the read interaction in process: token check,
// store read, response, on the same server the tests use.
func BenchmarkRead(b *testing.B) {
	ts := newServerB(b)
	h := ts.Config.Handler
	req := httptest.NewRequest("GET", "/fhir/Patient/p1", nil)
	req.Header.Set("Authorization", "Bearer "+ts.token)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}
