package shard

import "testing"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Shard
		ok   bool
	}{
		{"0/4", Shard{0, 4}, true},
		{"3/4", Shard{3, 4}, true},
		{"0/1", Shard{0, 1}, true},
		{"4/4", Shard{}, false},
		{"-1/4", Shard{}, false},
		{"1/0", Shard{}, false},
		{"01/4", Shard{}, false},
		{"1/4x", Shard{}, false},
		{"1", Shard{}, false},
		{"", Shard{}, false},
		{" 1/4", Shard{}, false},
	} {
		got, err := Parse(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v", tc.in, got, err)
		}
		if tc.ok && tc.want.Split() && got.String() != tc.in {
			t.Errorf("String() = %q, want %q", got.String(), tc.in)
		}
	}
}

// Every item is in exactly one shard, and Of counts them.
func TestMineAndOf(t *testing.T) {
	for n := 1; n <= 5; n++ {
		for items := 0; items < 12; items++ {
			total := 0
			for i := 0; i < n; i++ {
				s := Shard{i, n}
				mine := 0
				for v := 0; v < items; v++ {
					if s.Mine(v) {
						mine++
					}
				}
				if mine != s.Of(items) {
					t.Errorf("%v of %d: Mine says %d, Of %d", s, items, mine, s.Of(items))
				}
				total += mine
			}
			if total != items {
				t.Errorf("%d shards of %d items: %d in all", n, items, total)
			}
		}
	}
	if (Shard{}).FileName("r") != "r" || (Shard{1, 4}).FileName("r") != "r_shard1of4" || (Shard{1, 4}).Glob("r") != "r_shard*of4" {
		t.Error("file names")
	}
}
