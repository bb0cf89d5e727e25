// Command pipeliner is a pipelining HTTP/1.1 client for
// bench/record-vs-tshark.sh: on each of C keep-alive connections it writes
// DEPTH requests in one write, then reads their DEPTH answers, until N
// requests are answered. curl, ab and browsers no longer pipeline; a
// capture of it is the traffic where record's per-exchange costs weigh
// most (many exchanges a packet).
//
//	pipeliner -n 80000 -c 4 -depth 10 http://127.0.0.1:18091/index.html http://127.0.0.1:18091/tasks.json
//
// The URLs are sent in turn; they must share one host:port.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
)

func main() {
	n := flag.Int("n", 10000, "requests in all")
	c := flag.Int("c", 4, "connections")
	depth := flag.Int("depth", 10, "requests written at once on a connection")
	flag.Parse()
	if flag.NArg() == 0 || *n <= 0 || *c <= 0 || *depth <= 0 {
		fmt.Fprintln(os.Stderr, "usage: pipeliner [-n N] [-c C] [-depth D] URL...")
		os.Exit(2)
	}
	var host string
	var targets []string
	for _, a := range flag.Args() {
		u, err := url.Parse(a)
		if err != nil || u.Scheme != "http" || (host != "" && u.Host != host) {
			fmt.Fprintf(os.Stderr, "pipeliner: %q: want http:// URLs of one host:port\n", a)
			os.Exit(2)
		}
		host = u.Host
		targets = append(targets, u.RequestURI())
	}
	var wg sync.WaitGroup
	errs := make(chan error, *c)
	per := (*n + *c - 1) / *c
	for i := 0; i < *c; i++ {
		count := min(per, *n-i*per)
		if count <= 0 {
			break
		}
		wg.Add(1)
		go func(first int) {
			defer wg.Done()
			if err := run(host, targets, first, count, *depth); err != nil {
				errs <- err
			}
		}(i * per)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		fmt.Fprintln(os.Stderr, "pipeliner:", err)
		os.Exit(1)
	}
}

// run sends count requests on one connection, depth at a time.
func run(host string, targets []string, first, count, depth int) error {
	conn, err := net.Dial("tcp", host)
	if err != nil {
		return err
	}
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 64<<10)
	var batch strings.Builder
	for sent := 0; sent < count; {
		k := min(depth, count-sent)
		batch.Reset()
		for j := 0; j < k; j++ {
			fmt.Fprintf(&batch, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: pipeliner\r\nAccept: */*\r\n\r\n", targets[(first+sent+j)%len(targets)], host)
		}
		if _, err := io.WriteString(conn, batch.String()); err != nil {
			return err
		}
		for j := 0; j < k; j++ {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return fmt.Errorf("read answer %d: %w", sent+j, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		sent += k
	}
	return nil
}
