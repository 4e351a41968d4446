package ledger

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time the process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchLedger writes n versions with bodies of bodySize bytes over n/4
// resources, 256 per transaction, and signs one checkpoint at the end.
func benchLedger(b *testing.B, n, bodySize int) *fixture {
	b.Helper()
	ctx := context.Background()
	f := newFixture(b)
	body := make([]byte, bodySize)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	for i := 0; i < n; i++ {
		if i%256 == 0 {
			f.app.Begin()
		}
		k := resKey{"Observation", fmt.Sprintf("obs-%d", i%(n/4+1))}
		prev, ok := f.last[k]
		op := OpUpdate
		if !ok {
			prev, op = -1, OpCreate
		}
		f.vid[k]++
		v := Version{Type: k.typ, ID: k.id, VersionID: fmt.Sprint(f.vid[k]), LastUpdated: f.now(), Op: op, Prev: prev, Body: body, Key: NewKey()}
		e := Entry{Type: v.Type, ID: v.ID, VersionID: v.VersionID, LastUpdated: v.LastUpdated, Op: v.Op, BodyHash: BodyHash(v.Body), Prev: v.Prev, Key: v.Key}
		idx, err := f.app.Append(&e)
		if err != nil {
			b.Fatal(err)
		}
		v.Index = idx
		f.versions = append(f.versions, v)
		f.last[k] = int64(idx)
		if i%256 == 255 || i == n-1 {
			if err := f.app.Flush(ctx, f.store); err != nil {
				b.Fatal(err)
			}
			if err := f.app.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	f.checkpoint()
	return f
}

func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	a, _ := NewAppender(Head{})
	s := NewMemStore()
	e := Entry{Type: "Observation", ID: "obs-1", VersionID: "1", LastUpdated: "2024-01-02T03:04:05.678Z",
		Op: OpCreate, Prev: -1, Key: NewKey(), BodyHash: BodyHash([]byte("{}"))}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%64 == 0 {
			a.Begin()
		}
		snap := a.Snapshot()
		_ = snap
		if _, err := a.Append(&e); err != nil {
			b.Fatal(err)
		}
		if i%64 == 63 {
			if err := a.Flush(ctx, s); err != nil {
				b.Fatal(err)
			}
			if err := a.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		i++
	}
}

func BenchmarkInclusionProof(b *testing.B) {
	ctx := context.Background()
	const n = 1 << 17
	s, _ := buildRaw(b, randomLeaves(rand.New(rand.NewPCG(1, 2)), n))
	r := rand.New(rand.NewPCG(3, 4))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := InclusionProof(ctx, s, r.Uint64N(n), n); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAudit(b *testing.B) {
	for _, bodySize := range []int{256, 1024, 4096} {
		b.Run(fmt.Sprintf("body=%d", bodySize), func(b *testing.B) {
			const n = 50000
			f := benchLedger(b, n, bodySize)
			ctx := context.Background()
			// Read the store once, so that only the audit is measured.
			in := f.input()
			var leaves []StoredLeaf
			var nodes []Node
			for l := range in.Leaves {
				leaves = append(leaves, l)
			}
			for n := range in.Nodes {
				nodes = append(nodes, n)
			}
			in.Leaves, in.Nodes = seqOf(leaves), seqOf(nodes)
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				rep, err := Audit(ctx, in)
				if err != nil || !rep.OK() {
					b.Fatalf("Audit = %v, %v", rep.Counts, err)
				}
			}
			// The machine is shared: CPU time measures the one-core speed
			// even when the wall clock includes waiting for a core.
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "versions/s")
			b.ReportMetric(float64(n)*float64(b.N)/(cpuTime()-cpu0).Seconds(), "versions/cpu-s")
		})
	}
}

func seqOf[T any](s []T) func(func(T, error) bool) {
	return func(yield func(T, error) bool) {
		for _, x := range s {
			if !yield(x, nil) {
				return
			}
		}
	}
}
