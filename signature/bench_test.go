package signature

import (
	"testing"
)

// answerOf is an orders list answer of about size bytes (at least).
func answerOf(size int) []byte {
	one, two := len(ordersAnswer(7, 1, "ok", "")), len(ordersAnswer(7, 2, "ok", ""))
	n := max(1, 1+(size-one)/(two-one))
	for len(ordersAnswer(7, n, "ok", "")) < size {
		n++
	}
	return ordersAnswer(7, n, "ok", "")
}

// BenchmarkOf makes the signature of a list answer of orders (ids,
// timestamps, nested objects and arrays), as the recorder does for each
// exchange; MB/s are of the decoded body.
func BenchmarkOf(b *testing.B) {
	for _, c := range []struct {
		name   string
		size   int
		coding string
	}{
		{"1KiB", 1 << 10, ""},
		{"100KiB", 100 << 10, ""},
		{"100KiB-gzip", 100 << 10, "gzip"},
	} {
		b.Run(c.name, func(b *testing.B) {
			body := answerOf(c.size)
			b.SetBytes(int64(len(body)))
			hs := jsonType
			if c.coding != "" {
				hs = append(headers("Content-Encoding", c.coding), jsonType...)
				body = encode(b, c.coding, body)
			}
			b.ReportAllocs()
			for b.Loop() {
				Of(testKey, hs, body, false)
			}
		})
	}
}

func BenchmarkDiff(b *testing.B) {
	m := learned(20)
	rec := Of(testKey, jsonType, answerOf(100<<10), false)
	live := Of(testKey, jsonType, ordersAnswer(8, 300, "ok", ""), false)
	b.ReportAllocs()
	for b.Loop() {
		if d := m.Diff(200, rec, 200, live); d != "" {
			b.Fatal(d)
		}
	}
}
