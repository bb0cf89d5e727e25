// Command sampletraffic plays the users whose traffic becomes the sample
// trace (scripts/make-sample-trace.sh): the seed's user classes against the
// demo API, each with its own API key and think times.
//
//	reader   ReadOnlyUser: lists, gets, searches; 1-3 s between requests
//	writer   WriteHeavyUser: creates, updates, deletes; 1-3 s
//	mixed    AIWorkOSUser: mostly reads, some writes and analyses; 1-3 s
//	hurried  HighLoadUser: health checks and lists, 0.1-0.5 s: meets the rate limit
//	intruder a wrong key: 401s
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

type user struct {
	name, key, class string
}

func main() {
	base := flag.String("url", "http://127.0.0.1:18101", "where to send (the recording proxy)")
	duration := flag.Duration("duration", 60*time.Second, "how long the users play")
	flag.Parse()
	users := []user{
		{"alice", "demo-key-alice", "reader"},
		{"bob", "demo-key-bob", "writer"},
		{"carol", "demo-key-carol", "mixed"},
		{"dave", "demo-key-dave", "mixed"},
		{"erin", "demo-key-erin", "reader"},
		{"frank", "demo-key-frank", "hurried"},
		{"mallory", "not-a-key", "intruder"},
	}
	stop := time.Now().Add(*duration)
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]map[int]int{}
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i+1), 42))
			c := &http.Client{Timeout: 10 * time.Second}
			send := func(method, path, body string) {
				req, _ := http.NewRequest(method, *base+path, strings.NewReader(body))
				req.Header.Set("X-API-Key", u.key)
				req.Header.Set("User-Agent", "sampletraffic/1 ("+u.class+")")
				if body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				resp, err := c.Do(req)
				if err != nil {
					log.Printf("%s: %v", u.name, err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				if counts[u.name] == nil {
					counts[u.name] = map[int]int{}
				}
				counts[u.name][resp.StatusCode]++
				mu.Unlock()
			}
			think := func(lo, hi float64) {
				time.Sleep(time.Duration((lo + rng.Float64()*(hi-lo)) * float64(time.Second)))
			}
			id := func(n int) int { return 1 + rng.IntN(n) }
			for time.Now().Before(stop) {
				switch u.class {
				case "reader":
					switch rng.IntN(5) {
					case 0:
						send("GET", "/api/v1/tasks?limit=20", "")
					case 1:
						send("GET", fmt.Sprintf("/api/v1/tasks/%d", id(30)), "")
					case 2:
						send("GET", "/api/v1/projects", "")
					case 3:
						send("GET", fmt.Sprintf("/api/v1/documents/%d", id(20)), "")
					default:
						send("GET", "/api/v1/search?q="+[]string{"quarterly", "plan", "topic", "notes"}[rng.IntN(4)], "")
					}
					think(1, 3)
				case "writer":
					switch rng.IntN(6) {
					case 0, 1:
						send("POST", "/api/v1/tasks", fmt.Sprintf(`{"title":"task from bob %d","priority":%d}`, rng.IntN(1000), rng.IntN(5)))
					case 2:
						send("PATCH", fmt.Sprintf("/api/v1/tasks/%d", id(30)), `{"status":"done"}`)
					case 3:
						send("PUT", fmt.Sprintf("/api/v1/documents/%d", id(20)), `{"title":"rewritten","content":"new text for the plan"}`)
					case 4:
						send("DELETE", fmt.Sprintf("/api/v1/tasks/%d", id(40)), "")
					default:
						send("GET", "/api/v1/tasks?status=todo", "")
					}
					think(1, 3)
				case "mixed":
					switch rng.IntN(10) {
					case 0:
						send("POST", "/api/v1/tasks", `{"title":"follow up"}`)
					case 1:
						send("POST", fmt.Sprintf("/api/v1/documents/%d/analyze", id(20)), "")
					case 2:
						send("PATCH", fmt.Sprintf("/api/v1/projects/%d", id(5)), `{"status":"review"}`)
					case 3, 4:
						send("GET", "/api/v1/tasks?limit=10", "")
					case 5:
						send("GET", "/api/v1/search?q=plan", "")
					default:
						send("GET", fmt.Sprintf("/api/v1/tasks/%d", id(35)), "")
					}
					think(1, 3)
				case "hurried":
					if rng.IntN(3) == 0 {
						send("GET", "/health", "")
					} else {
						send("GET", "/api/v1/tasks?limit=5", "")
					}
					think(0.1, 0.5)
				case "intruder":
					send("GET", "/api/v1/tasks", "")
					think(3, 6)
				}
			}
		}()
	}
	wg.Wait()
	for _, u := range users {
		fmt.Printf("%-8s %-8s %v\n", u.name, u.class, counts[u.name])
	}
}
