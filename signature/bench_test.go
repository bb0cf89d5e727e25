package signature

import (
	"testing"
)

// answerOf is an orders list answer of about size bytes.
func answerOf(size int) []byte {
	n := 1
	for len(ordersAnswer(7, n, "ok", "")) < size {
		n++
	}
	return ordersAnswer(7, n, "ok", "")
}

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
		body := answerOf(c.size)
		hs := jsonType
		if c.coding != "" {
			hs = append(headers("Content-Encoding", c.coding), jsonType...)
			body = encode(b, c.coding, body)
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(answerOf(c.size))))
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
