package record

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSize reads a byte size: "1048576", "64KB", "1MiB", "2MB", "1GiB".
// KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024, as their names say.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) && (len(u.suffix) != 3 || strings.HasSuffix(t, u.suffix)) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 || n*float64(mult) > 1<<50 {
		return 0, fmt.Errorf("bad size %q: want a number of bytes like 1048576, 64KB or 1MiB", s)
	}
	return int64(n * float64(mult)), nil
}
