package demoapi

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func do(t *testing.T, h http.Handler, method, path, key, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var v map[string]any
	json.Unmarshal(rec.Body.Bytes(), &v)
	return rec.Code, v, rec.Header()
}

func TestEndpoints(t *testing.T) {
	s := New(Config{NoDelay: true, IDBase: 1})
	key := DefaultKeys[0]
	tests := []struct {
		method, path, key, body string
		want                    int
	}{
		{"GET", "/health", "", "", 200},
		{"GET", "/api/v1/tasks", "", "", 401},
		{"GET", "/api/v1/tasks", "wrong-key", "", 401},
		{"GET", "/api/v1/tasks", key, "", 200},
		{"GET", "/api/v1/tasks?status=done&limit=5", key, "", 200},
		{"GET", "/api/v1/tasks/1", key, "", 200},
		{"GET", "/api/v1/tasks/9999", key, "", 404},
		{"POST", "/api/v1/tasks", key, `{"title":"write the report"}`, 201},
		{"POST", "/api/v1/tasks", key, `{"status":"todo"}`, 422},
		{"POST", "/api/v1/tasks", key, `not json`, 400},
		{"POST", "/api/v1/tasks", key, `{"title":"` + strings.Repeat("x", 2<<20) + `"}`, 413},
		{"PUT", "/api/v1/projects/2", key, `{"title":"renamed"}`, 200},
		{"PATCH", "/api/v1/documents/3", key, `{"status":"reviewed"}`, 200},
		{"DELETE", "/api/v1/tasks/2", key, "", 204},
		{"DELETE", "/api/v1/tasks/2", key, "", 404},
		{"GET", "/api/v1/search?q=quarterly", key, "", 200},
		{"GET", "/api/v1/search", key, "", 400},
		{"POST", "/api/v1/documents/4/analyze", key, "", 200},
		{"POST", "/api/v1/documents/999/analyze", key, "", 404},
		{"GET", "/nope", key, "", 404},
	}
	for _, tt := range tests {
		code, body, _ := do(t, s, tt.method, tt.path, tt.key, tt.body)
		if code != tt.want {
			t.Errorf("%s %s: %d (%v), want %d", tt.method, tt.path, code, body, tt.want)
		}
	}
}

func TestCRUDRoundTrip(t *testing.T) {
	s := New(Config{NoDelay: true, IDBase: 1})
	key := DefaultKeys[1]
	code, created, _ := do(t, s, "POST", "/api/v1/tasks", key, `{"title":"a","priority":3}`)
	if code != 201 {
		t.Fatal(code)
	}
	path := fmt.Sprintf("/api/v1/tasks/%v", created["id"])
	_, got, _ := do(t, s, "GET", path, key, "")
	if got["title"] != "a" || got["priority"] != float64(3) || got["status"] != "todo" {
		t.Errorf("got %v", got)
	}
	do(t, s, "PATCH", path, key, `{"status":"done"}`)
	_, got, _ = do(t, s, "GET", path, key, "")
	if got["status"] != "done" || got["title"] != "a" {
		t.Errorf("after PATCH %v", got)
	}
	do(t, s, "PUT", path, key, `{"title":"b"}`)
	_, got, _ = do(t, s, "GET", path, key, "")
	if got["title"] != "b" || got["priority"] != nil {
		t.Errorf("after PUT (replace) %v", got)
	}
}

func TestRateLimit(t *testing.T) {
	s := New(Config{NoDelay: true, RatePerKey: 10, Burst: 5, IDBase: 1})
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	var codes []int
	for i := 0; i < 7; i++ {
		code, _, h := do(t, s, "GET", "/api/v1/tasks/1", DefaultKeys[0], "")
		codes = append(codes, code)
		if code == 429 && h.Get("Retry-After") != "1" {
			t.Errorf("Retry-After %q", h.Get("Retry-After"))
		}
	}
	if !slices.Equal(codes, []int{200, 200, 200, 200, 200, 429, 429}) {
		t.Errorf("codes %v: burst of 5, then 429", codes)
	}
	// Another key has its own bucket; time refills this one.
	if code, _, _ := do(t, s, "GET", "/api/v1/tasks/1", DefaultKeys[1], ""); code != 200 {
		t.Errorf("other key: %d", code)
	}
	now = now.Add(200 * time.Millisecond) // 2 tokens at 10/s
	for i, want := range []int{200, 200, 429} {
		if code, _, _ := do(t, s, "GET", "/api/v1/tasks/1", DefaultKeys[0], ""); code != want {
			t.Errorf("after refill, request %d: %d, want %d", i, code, want)
		}
	}
}

// The store is safe under concurrency (run with -race): parallel creates
// get distinct ids and all are listed.
func TestConcurrentWrites(t *testing.T) {
	srv := httptest.NewServer(New(Config{NoDelay: true, RatePerKey: 1e6, Burst: 1e6}))
	defer srv.Close()
	var wg sync.WaitGroup
	ids := make(chan float64, 200)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				req, _ := http.NewRequest("POST", srv.URL+"/api/v1/projects", strings.NewReader(`{"title":"p"}`))
				req.Header.Set("X-API-Key", DefaultKeys[2])
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				var v map[string]any
				json.NewDecoder(resp.Body).Decode(&v)
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				ids <- v["id"].(float64)
			}
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[float64]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("id %v given twice", id)
		}
		seen[id] = true
	}
	if len(seen) != 200 {
		t.Errorf("%d distinct ids", len(seen))
	}
}

// The slow endpoints' latency model has the median and tail it claims.
func TestLatencyModel(t *testing.T) {
	s := New(Config{Seed: 7})
	var d []float64
	for i := 0; i < 20000; i++ {
		d = append(d, float64(s.Latency(80*time.Millisecond, 600*time.Millisecond)))
	}
	slices.Sort(d)
	med, p99 := d[len(d)/2], d[len(d)*99/100]
	if math.Abs(med/float64(80*time.Millisecond)-1) > 0.05 || math.Abs(p99/float64(600*time.Millisecond)-1) > 0.1 {
		t.Errorf("median %v p99 %v, want about 80ms and 600ms", time.Duration(med), time.Duration(p99))
	}
}
