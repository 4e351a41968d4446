// Command load is fhirseal's load generator. It drives a fhirseal server on
// loopback with a bounded number of requests per run and reports, per
// scenario, the median over runs of requests per second and latency
// percentiles. In the same run it measures a trivial handler that answers a
// fixed 1.5 KB body, the ceiling of what this machine can measure when
// client and server share its cores.
//
//	go run ./bench/load -url http://127.0.0.1:8080/fhir -runs 5 -duration 10s
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8080/fhir", "FHIR base URL (loopback only)")
	runs := flag.Int("runs", 5, "runs per scenario")
	dur := flag.Duration("duration", 10*time.Second, "length of one run")
	maxReq := flag.Int("max-requests", 200000, "request bound per run")
	clients := flag.Int("clients", 32, "concurrent clients")
	scenarios := flag.String("scenarios", "trivial,create,read", "comma-separated: trivial, create, read, proof")
	token := flag.String("token", "", "bearer token")
	flag.Parse()
	u, err := url.Parse(*base)
	if err != nil || !loopback(u.Hostname()) {
		fmt.Fprintln(os.Stderr, "load: -url must point at a loopback address")
		os.Exit(2)
	}
	tr := &http.Transport{MaxIdleConns: *clients * 2, MaxIdleConnsPerHost: *clients * 2}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	trivialURL := startTrivial()
	ids := seed(client, *base, *token, 1000)
	for _, sc := range strings.Split(*scenarios, ",") {
		var results []result
		for r := 0; r < *runs; r++ {
			var mk func(i int) *http.Request
			switch sc {
			case "trivial":
				mk = func(int) *http.Request { req, _ := http.NewRequest("GET", trivialURL, nil); return req }
			case "create":
				mk = func(i int) *http.Request {
					req, _ := http.NewRequest("POST", *base+"/Observation", bytes.NewReader(observation(i)))
					req.Header.Set("Content-Type", "application/fhir+json")
					return req
				}
			case "proof":
				mk = func(i int) *http.Request {
					req, _ := http.NewRequest("GET", *base+"/Observation/"+ids[rand.IntN(len(ids))]+"/_history/1/$ledger-proof", nil)
					return req
				}
			case "read":
				mk = func(i int) *http.Request {
					req, _ := http.NewRequest("GET", *base+"/Observation/"+ids[rand.IntN(len(ids))], nil)
					return req
				}
			default:
				fmt.Fprintf(os.Stderr, "load: unknown scenario %q\n", sc)
				os.Exit(2)
			}
			results = append(results, drive(client, mk, *token, *clients, *dur, *maxReq))
		}
		report(sc, *clients, results)
	}
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startTrivial serves a fixed 1.5 KB body on a loopback port.
func startTrivial() string {
	body := bytes.Repeat([]byte("x"), 1536)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write(body)
	}))
	return "http://" + l.Addr().String() + "/trivial"
}

// observation returns a valid Observation of about 1.5 KB.
func observation(i int) []byte {
	return []byte(fmt.Sprintf(`{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"Vital Signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"85354-9","display":"Blood pressure panel with all children optional"}],"text":"Blood pressure systolic & diastolic"},"subject":{"reference":"Patient/example-%d"},"effectiveDateTime":"2024-02-%02dT09:30:10+01:00","performer":[{"reference":"Practitioner/example"}],"interpretation":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"L","display":"low"}],"text":"Below low normal"}],"bodySite":{"coding":[{"system":"http://snomed.info/sct","code":"368209003","display":"Right arm"}]},"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6","display":"Systolic blood pressure"},{"system":"http://snomed.info/sct","code":"271649006","display":"Systolic blood pressure"}]},"valueQuantity":{"value":%d,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"},"interpretation":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"N","display":"normal"}],"text":"Normal"}]},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4","display":"Diastolic blood pressure"}]},"valueQuantity":{"value":%d.5,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"},"interpretation":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"L","display":"low"}],"text":"Below low normal"}]}]}`,
		i%1000, 1+i%28, 100+i%60, 60+i%30))
}

func seed(c *http.Client, base, token string, n int) []string {
	var ids []string
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest("POST", base+"/Observation", bytes.NewReader(observation(i)))
		req.Header.Set("Content-Type", "application/fhir+json")
		req.Header.Set("Prefer", "return=minimal")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := c.Do(req)
		if err != nil {
			fmt.Fprintf(os.Stderr, "load: seed: %v\n", err)
			os.Exit(1)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		loc := res.Header.Get("Location")
		parts := strings.Split(loc, "/")
		if res.StatusCode != 201 || len(parts) < 4 {
			fmt.Fprintf(os.Stderr, "load: seed: status %d\n", res.StatusCode)
			os.Exit(1)
		}
		ids = append(ids, parts[len(parts)-3])
	}
	return ids
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int64
}

func drive(c *http.Client, mk func(int) *http.Request, token string, clients int, dur time.Duration, maxReq int) result {
	var (
		next   atomic.Int64
		errs   atomic.Int64
		mu     sync.Mutex
		lat    []time.Duration
		wg     sync.WaitGroup
		cutoff = time.Now().Add(dur)
	)
	start := time.Now()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(cutoff) {
				i := int(next.Add(1))
				if i > maxReq {
					break
				}
				req := mk(i)
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				t0 := time.Now()
				res, err := c.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode >= 300 {
					errs.Add(1)
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	r := result{rps: float64(len(lat)) / elapsed.Seconds(), errors: errs.Load()}
	if len(lat) > 0 {
		r.p50 = lat[len(lat)/2]
		r.p99 = lat[len(lat)*99/100]
	}
	return r
}

func report(name string, clients int, rs []result) {
	med := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	var errs int64
	for _, r := range rs {
		errs += r.errors
	}
	fmt.Printf("%-8s clients=%d runs=%d  median %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d\n", name, clients, len(rs),
		med(func(r result) float64 { return r.rps }),
		med(func(r result) float64 { return float64(r.p50.Microseconds()) / 1000 }),
		med(func(r result) float64 { return float64(r.p99.Microseconds()) / 1000 }), errs)
}
