// Command gotls is the Go HTTPS server and client of record's --tls
// tests: Go's crypto/tls, with its symbols, on loopback.
//
//	gotls serve TLSPORT PLAINPORT CERT KEY   the same handler over TLS and in clear text
//	gotls get BASE                           the test's requests, keep-alive and fresh
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

func main() {
	switch {
	case len(os.Args) == 6 && os.Args[1] == "serve":
		serve(os.Args[2], os.Args[3], os.Args[4], os.Args[5])
	case len(os.Args) == 3 && os.Args[1] == "get":
		if err := get(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "gotls:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: gotls serve TLSPORT PLAINPORT CERT KEY | gotls get BASE")
		os.Exit(2)
	}
}

func serve(tlsPort, plainPort, cert, key string) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		case "/big":
			w.Write([]byte(strings.Repeat("0123456789abcdef", 100<<10/16)))
		default:
			fmt.Fprintf(w, `{"path":%q,"got":%d}`, r.URL.Path, len(b))
		}
	})
	go func() {
		// HTTP/1.1 only: the recorder parses HTTP/1.x.
		srv := &http.Server{Addr: "127.0.0.1:" + tlsPort, Handler: h, TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
		fmt.Fprintln(os.Stderr, srv.ListenAndServeTLS(cert, key))
		os.Exit(1)
	}()
	fmt.Fprintln(os.Stderr, http.ListenAndServe("127.0.0.1:"+plainPort, h))
	os.Exit(1)
}

func get(base string) error {
	tr := func(keep bool) *http.Client {
		return &http.Client{Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // the test's self-signed certificate
			DisableKeepAlives: !keep, MaxIdleConnsPerHost: 1, ForceAttemptHTTP2: false,
			TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
		}}
	}
	keep, fresh := tr(true), tr(false)
	for _, r := range []struct {
		c            *http.Client
		method, path string
		body, key    string
	}{
		{keep, "GET", "/a", "", "key-erin"},
		{keep, "POST", "/b", `{"x":1}`, "key-erin"},
		{keep, "GET", "/big", "", "key-erin"},
		{keep, "GET", "/missing", "", "key-erin"},
		{fresh, "GET", "/c?q=1", "", "key-frank"},
		{fresh, "DELETE", "/d", "", "key-frank"},
	} {
		req, err := http.NewRequest(r.method, base+r.path, strings.NewReader(r.body))
		if err != nil {
			return err
		}
		req.Header.Set("X-API-Key", r.key)
		resp, err := r.c.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return nil
}
