// Package shard names one part of a run split across processes: shard I
// of N (replay --shard I/N, or a Kubernetes Indexed Job's completion
// index). Its zero value is the whole run.
package shard

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard is part Index (from 0) of Count. Count 0 or 1 is the whole run.
type Shard struct {
	Index, Count int
}

// Parse reads "I/N" with 0 <= I < N.
func Parse(s string) (Shard, error) {
	i, n, ok := strings.Cut(s, "/")
	a, errA := strconv.Atoi(i)
	b, errB := strconv.Atoi(n)
	if !ok || errA != nil || errB != nil || b < 1 || a < 0 || a >= b || strconv.Itoa(a)+"/"+strconv.Itoa(b) != s {
		return Shard{}, fmt.Errorf("shard %q: want I/N with 0 <= I < N, such as 0/4", s)
	}
	return Shard{Index: a, Count: b}, nil
}

// Split says whether the run is split at all.
func (s Shard) Split() bool { return s.Count > 1 }

// String is "I/N", or "" for the whole run.
func (s Shard) String() string {
	if !s.Split() {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Mine says whether item i (a virtual user, or a scheduled request) is
// this shard's: i mod N = I.
func (s Shard) Mine(i int) bool { return !s.Split() || i%s.Count == s.Index }

// Of is how many of n items (0..n-1) are this shard's.
func (s Shard) Of(n int) int {
	if !s.Split() {
		return n
	}
	if n <= s.Index {
		return 0
	}
	return (n-1-s.Index)/s.Count + 1
}

// FileName is the results file's name (without extension) for run:
// {run}_shard{I}of{N}, or run itself for the whole run.
func (s Shard) FileName(run string) string {
	if !s.Split() {
		return run
	}
	return fmt.Sprintf("%s_shard%dof%d", run, s.Index, s.Count)
}

// Glob is the pattern matching every shard's file of run.
func (s Shard) Glob(run string) string {
	if !s.Split() {
		return run
	}
	return fmt.Sprintf("%s_shard*of%d", run, s.Count)
}
