package proxyproto

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// A Listener's connections read from after their header, with the client
// it carries as RemoteAddr; one without a header is not believed.
func TestListener(t *testing.T) {
	v2 := "\r\n\r\n\x00\r\nQUIT\n" + "\x21\x11\x00\x0c" + "\xcb\x00\x71\x09" + "\x0a\x00\x00\x05" + "\xc8\x02" + "\x00\x50"
	for _, tt := range []struct {
		name   string
		writes []string // the client's writes, in order
		remote string   // "" its own
		read   string
		err    error
	}{
		{"v1", []string{"PROXY TCP4 203.0.113.7 10.0.0.5 51234 80\r\nGET / HTTP/1.1\r\n\r\n"}, "203.0.113.7:51234", "GET / HTTP/1.1\r\n\r\n", nil},
		{"v1 in pieces", []string{"PROXY TCP4 203.0.1", "13.7 10.0.0.5 51234 80\r", "\nGET / HTTP/1.1\r\n\r\n"}, "203.0.113.7:51234", "GET / HTTP/1.1\r\n\r\n", nil},
		{"v6", []string{"PROXY TCP6 2001:db8::7 2001:db8::5 443 80\r\nGET / HTTP/1.1\r\n\r\n"}, "[2001:db8::7]:443", "GET / HTTP/1.1\r\n\r\n", nil},
		{"v2", []string{v2 + "GET /x HTTP/1.1\r\n\r\n"}, "203.0.113.9:51202", "GET /x HTTP/1.1\r\n\r\n", nil},
		{"unknown keeps its own", []string{"PROXY UNKNOWN\r\nGET / HTTP/1.1\r\n\r\n"}, "", "GET / HTTP/1.1\r\n\r\n", nil},
		{"no header", []string{"GET / HTTP/1.1\r\n\r\n"}, "", "", ErrNoHeader},
		{"a bad one", []string{"PROXY TCP4 203.0.113.007 10.0.0.5 1 80\r\nGET / HTTP/1.1\r\n\r\n"}, "", "", ErrNoHeader},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			pl := &Listener{Listener: ln, Timeout: 5 * time.Second}
			client, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			go func() {
				for _, w := range tt.writes {
					client.Write([]byte(w))
					time.Sleep(10 * time.Millisecond)
				}
				client.(*net.TCPConn).CloseWrite()
			}()
			c, err := pl.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			want := tt.remote
			if want == "" {
				want = client.LocalAddr().String()
			}
			if got := c.RemoteAddr().String(); got != want {
				t.Errorf("RemoteAddr %s, want %s", got, want)
			}
			b, err := io.ReadAll(c)
			if string(b) != tt.read || !errors.Is(err, tt.err) && !(err == nil && tt.err == nil) {
				t.Errorf("read %q, %v; want %q, %v", b, err, tt.read, tt.err)
			}
		})
	}
}

// A client that sends nothing holds only its own connection, for Timeout.
func TestListenerTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pl := &Listener{Listener: ln, Timeout: 100 * time.Millisecond}
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := pl.Accept() // does not wait for the header
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, ErrNoHeader) {
		t.Errorf("read of a silent connection: %v, want ErrNoHeader", err)
	}
}
