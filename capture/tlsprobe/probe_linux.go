//go:build linux && amd64

package tlsprobe

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// ErrNoChunk is returned by Read when no chunk came within its wait.
var ErrNoChunk = errors.New("tlsprobe: no chunk")

// pollWait is how long Read waits for a chunk: the caller checks its
// context and flushes between waits.
const pollWait = 100 * time.Millisecond

// Probe holds the loaded BPF programs, their attachments and the ring
// buffer reader. Not safe for concurrent use: one goroutine reads.
type Probe struct {
	objs      opensslObjects
	links     []link.Link
	rd        *ringbuf.Reader
	rec       ringbuf.Record
	mono2wall int64
	// exes, when set, keeps the chunks of processes running one of these
	// executables (exe: targets); exeOf caches /proc/PID/exe.
	exes  map[string]bool
	exeOf map[uint32]bool
	stats Stats
}

// Open loads the BPF programs and attaches them to the targets. A target
// that cannot be attached is listed in Stats().Failures; Open fails when
// none could be.
func Open(targets []Target) (*Probe, error) {
	if len(targets) == 0 {
		return nil, errors.New("--tls: no target")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return nil, errors.New("--tls needs a kernel with BTF (/sys/kernel/btf/vmlinux: CONFIG_DEBUG_INFO_BTF): the probes read socket addresses by CO-RE")
	}
	if _, err := os.Stat("/sys/bus/event_source/devices/uprobe"); err != nil {
		return nil, errors.New("--tls needs a kernel with uprobes (CONFIG_UPROBE_EVENTS)")
	}
	// Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK; later ones to
	// the cgroup, and this is a no-op.
	_ = rlimit.RemoveMemlock()
	p := &Probe{exeOf: map[uint32]bool{}}
	if err := loadOpensslObjects(&p.objs, nil); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("--tls needs root, or CAP_BPF and CAP_PERFMON (and CAP_SYS_ADMIN on kernels before 5.8) to load its BPF programs: %w", err)
		}
		return nil, fmt.Errorf("load the BPF programs: %w", err)
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err == nil {
		p.mono2wall = time.Now().UnixNano() - ts.Nano()
	}
	ok := false
	for _, t := range targets {
		if p.attach(t) {
			ok = true
		}
	}
	if !ok {
		p.Close()
		return nil, fmt.Errorf("--tls: nothing could be attached: %s", strings.Join(p.stats.Failures, "; "))
	}
	// The syscall tracepoint tells the socket of each SSL call. Without
	// it the chunks have no addresses, which is counted, not fatal.
	if l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sys_enter", Program: p.objs.SysEnter}); err != nil {
		p.stats.Failures = append(p.stats.Failures, fmt.Sprintf("raw tracepoint sys_enter: %v (no socket addresses)", err))
	} else {
		p.links = append(p.links, l)
	}
	rd, err := ringbuf.NewReader(p.objs.Events)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("open the ring buffer: %w", err)
	}
	p.rd = rd
	return p, nil
}

// attach puts the probes on the library (or executable) of t.
func (p *Probe) attach(t Target) bool {
	paths, pid, err := resolve(t)
	if err != nil {
		p.stats.Failures = append(p.stats.Failures, fmt.Sprintf("%s: %v", t, err))
		return false
	}
	if t.Exe != "" && (len(paths) != 1 || paths[0] != t.Exe) {
		// Probes on a shared library fire in every process that maps
		// it: keep the chunks of processes running t.Exe. (Probes on the
		// executable itself fire in its processes only.)
		if p.exes == nil {
			p.exes = map[string]bool{}
		}
		p.exes[t.Exe] = true
	}
	ok := false
	for _, path := range paths {
		where := path
		if pid > 0 {
			where += fmt.Sprintf(" (pid %d)", pid)
		}
		attach := p.attachLib
		if isGoTLS(path) {
			attach = p.attachGo
		}
		if err := attach(path, pid); err != nil {
			p.stats.Failures = append(p.stats.Failures, fmt.Sprintf("%s: %v", where, err))
			continue
		}
		p.stats.Attached = append(p.stats.Attached, where)
		ok = true
	}
	return ok
}

func (p *Probe) attachLib(path string, pid int) error {
	ex, err := link.OpenExecutable(path)
	if err != nil {
		return err
	}
	opts := &link.UprobeOptions{PID: pid}
	type probe struct {
		sym       string
		enter     *ebpf.Program
		leave     *ebpf.Program
		mandatory bool
	}
	probes := []probe{
		{"SSL_write", p.objs.SslWriteEnter, p.objs.SslWriteLeave, true},
		{"SSL_read", p.objs.SslReadEnter, p.objs.SslReadLeave, true},
		// OpenSSL 1.1.0 has no _ex forms.
		{"SSL_write_ex", p.objs.SslWriteExEnter, p.objs.SslExLeave, false},
		{"SSL_read_ex", p.objs.SslReadExEnter, p.objs.SslExLeave, false},
		{"SSL_free", p.objs.SslFreeEnter, nil, false},
	}
	var links []link.Link
	fail := func(err error) error {
		for _, l := range links {
			l.Close()
		}
		if errors.Is(err, link.ErrNoSymbol) {
			return fmt.Errorf("%w (not OpenSSL, or stripped of its dynamic symbols)", err)
		}
		return err
	}
	for _, pr := range probes {
		l, err := ex.Uprobe(pr.sym, pr.enter, opts)
		if err != nil {
			if !pr.mandatory && errors.Is(err, link.ErrNoSymbol) {
				continue
			}
			return fail(err)
		}
		links = append(links, l)
		if pr.leave == nil {
			continue
		}
		if l, err = ex.Uretprobe(pr.sym, pr.leave, opts); err != nil {
			return fail(err)
		}
		links = append(links, l)
	}
	p.links = append(p.links, links...)
	return nil
}

// resolve finds the files to attach to for t, and the pid to limit the
// probes to (0: every process).
func resolve(t Target) (paths []string, pid int, err error) {
	switch {
	case t.Lib != "":
		if _, err := os.Stat(t.Lib); err != nil {
			return nil, 0, err
		}
		return []string{t.Lib}, 0, nil
	case t.PID > 0:
		libs, err := mappedLibssl(t.PID)
		if err != nil {
			return nil, 0, err
		}
		if len(libs) == 0 {
			// Statically linked OpenSSL, or Go's crypto/tls: the
			// executable holds the symbols.
			libs = []string{fmt.Sprintf("/proc/%d/exe", t.PID)}
		}
		return libs, t.PID, nil
	}
	if elfHasSymbol(t.Exe, "SSL_write") || isGoTLS(t.Exe) {
		return []string{t.Exe}, 0, nil
	}
	pids, err := processesOf(t.Exe)
	if err != nil {
		return nil, 0, err
	}
	seen := map[string]bool{}
	for _, pid := range pids {
		libs, err := mappedLibssl(pid)
		if err != nil {
			continue // it may have exited
		}
		for _, l := range libs {
			// One probe per file: every process mapping it is traced, and
			// the chunks of other executables are dropped.
			real := strings.TrimPrefix(l, fmt.Sprintf("/proc/%d/root", pid))
			if !seen[real] {
				seen[real] = true
				paths = append(paths, l)
			}
		}
	}
	if len(paths) == 0 {
		return nil, 0, fmt.Errorf("no running process of %s maps a libssl (start it first, or give the library's path)", t.Exe)
	}
	return paths, 0, nil
}

// mappedLibssl lists the libssl files process pid maps, as paths through
// its root (/proc/PID/root/...), so that a process in a container is
// attached to its own library.
func mappedLibssl(pid int) ([]string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var libs []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		path := fields[5]
		if !strings.Contains(filepath.Base(path), "libssl.so") || seen[path] {
			continue
		}
		seen[path] = true
		libs = append(libs, fmt.Sprintf("/proc/%d/root%s", pid, path))
	}
	return libs, sc.Err()
}

// processesOf lists the processes whose executable is exe.
func processesOf(exe string) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && l == exe {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Read waits up to pollWait for the next chunk; ErrNoChunk when none came.
func (p *Probe) Read(c *Chunk) error {
	for {
		p.rd.SetDeadline(time.Now().Add(pollWait))
		err := p.rd.ReadInto(&p.rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return ErrNoChunk
		}
		if err != nil {
			return fmt.Errorf("read the ring buffer: %w", err)
		}
		if err := decodeChunk(p.rec.RawSample, p.mono2wall, c); err != nil {
			p.stats.Malformed++ // not the BPF program's layout: never expected
			continue
		}
		if p.exes != nil && !p.keep(c.PID) {
			p.stats.OtherProcesses++
			continue
		}
		if !c.Freed {
			p.stats.Chunks++
			p.stats.Bytes += int64(len(c.Data))
		}
		return nil
	}
}

// keep says whether pid runs one of the exe: targets.
func (p *Probe) keep(pid uint32) bool {
	k, ok := p.exeOf[pid]
	if !ok {
		if len(p.exeOf) >= 4096 {
			clear(p.exeOf) // bounded; pids are reused anyway
		}
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		k = p.exes[l]
		p.exeOf[pid] = k
	}
	return k
}

// Stats returns the counters so far, with the BPF program's.
func (p *Probe) Stats() Stats {
	s := p.stats
	s.Attached = append([]string(nil), s.Attached...)
	s.Failures = append([]string(nil), s.Failures...)
	var per []uint64
	for i, dst := range []*int64{&s.LostEvents, &s.LostBytes, &s.Busy, &s.TooLong} {
		if err := p.objs.Counters.Lookup(uint32(i), &per); err != nil {
			continue
		}
		for _, v := range per {
			*dst += int64(v)
		}
	}
	return s
}

// Close detaches the probes and frees the BPF objects.
func (p *Probe) Close() error {
	for _, l := range p.links {
		l.Close()
	}
	p.links = nil
	if p.rd != nil {
		p.rd.Close()
	}
	return p.objs.Close()
}
