// SPDX-License-Identifier: (MIT OR GPL-2.0)
//
// Uprobes on OpenSSL's SSL_read/SSL_write (and their _ex forms) that copy
// the plaintext of each call into a ring buffer, with the TCP addresses of
// the socket the call used; and on Go's crypto/tls (at the end).
//
// Entry probes save the call's arguments per thread; return probes read how
// many bytes were moved and copy them. The socket is learned from the
// syscalls made during the call: a thread inside an SSL call that reads or
// writes a TCP socket does so for that SSL (true for OpenSSL's socket BIO
// and for custom BIOs such as curl's, which call send/recv). Its
// addresses are read in the kernel, at once: a short connection may be
// gone before user space could look in /proc.

#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define CHUNK 16384      // bytes per event
#define MAX_CHUNKS 32    // events per call: 512 KiB; the rest is counted lost
#define AF_INET 2
#define AF_INET6 10

enum dir { DIR_SENT = 0, DIR_RECEIVED = 1 };
enum kind { KIND_DATA = 0, KIND_FREE = 1 };

// BPF_KPROBE/BPF_KRETPROBE serve the uprobes too: Debian 12's libbpf has no
// BPF_UPROBE.

// Only the fields read, relocated by name against the kernel's BTF (CO-RE):
// no vmlinux.h is needed to build.
struct in6_addr___rk { __u8 u6_addr8[16]; };
struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	struct in6_addr___rk skc_v6_daddr;
	struct in6_addr___rk skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));
struct sock { struct sock_common __sk_common; } __attribute__((preserve_access_index));

struct tuple {
	__u8 local[16];  // IPv4 in the first 4 bytes when family is AF_INET
	__u8 remote[16];
	__u16 lport;     // host order
	__u16 rport;     // host order
	__u16 family;    // 0: not known
	__u16 pad;
};

// call is one SSL_read/SSL_write in progress on a thread.
struct call {
	__u64 ssl;
	__u64 buf;
	__u64 size_ptr;  // the _ex forms' *readbytes / *written; 0 otherwise
	__u32 dir;
	__u32 known;     // t came from conns: nothing to store at return
	struct tuple t;  // filled at entry from conns, or by sys_enter
};

struct conn_key { __u64 ssl; __u32 tgid; __u32 pad; };

struct event_hdr {
	__u64 ts;        // bpf_ktime_get_ns (CLOCK_MONOTONIC)
	__u64 ssl;
	__u32 tgid;
	__u32 tid;
	__u32 dir;
	__u32 kind;
	__u32 len;       // bytes of data following the header
	__u32 pad;
	__u64 lost;      // bytes of this direction lost just before these
	struct tuple t;
};

struct event {
	struct event_hdr h;
	__u8 data[CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);          // tid
	__type(value, struct call);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct conn_key);
	__type(value, struct tuple);
} conns SEC(".maps");

// lost holds, per connection and direction, the bytes the ring buffer had
// no room for, until the next event of that direction carries the count.
struct lost_key { __u64 ssl; __u32 tgid; __u32 dir; };
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct lost_key);
	__type(value, __u64);
} lost SEC(".maps");

// counters: 0 events lost, 1 bytes lost, 2 calls whose thread slot was taken
// (calls map full), 3 bytes beyond MAX_CHUNKS per call.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

// go_scratch builds a Go Write's call (off the stack: emit needs room).
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct call);
} go_scratch SEC(".maps");

// scratch builds one event per CPU: too big for the 512-byte stack.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event);
} scratch SEC(".maps");

// WAKE_AT is how many bytes wait in the ring buffer before the reader is
// woken. A wakeup per event costs the traced process more than the copy
// (it queues an irq_work and wakes a task); the reader wakes at least
// every 100ms by itself (tlsprobe.pollWait) and takes what is there.
#define WAKE_AT (256 << 10)

static __always_inline __u64 wake_flag(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= WAKE_AT ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void count(__u32 i, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &i);
	if (v)
		*v += n;
}

static __always_inline int enter(void *ssl, void *buf, void *size_ptr, __u32 dir)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct call c = {};
	c.ssl = (__u64)ssl;
	c.buf = (__u64)buf;
	c.size_ptr = (__u64)size_ptr;
	c.dir = dir;
	// A connection's socket once known, its calls need no syscall watched.
	struct conn_key ck = { .ssl = (__u64)ssl, .tgid = bpf_get_current_pid_tgid() >> 32 };
	struct tuple *t = bpf_map_lookup_elem(&conns, &ck);
	if (t) {
		c.t = *t;
		c.known = 1;
	}
	if (bpf_map_update_elem(&calls, &tid, &c, BPF_ANY))
		count(2, 1);
	return 0;
}

// The socket of a file descriptor: task->files->fdt->fd[fd]->private_data.
struct fdtable { unsigned int max_fds; struct file **fd; } __attribute__((preserve_access_index));
struct files_struct { struct fdtable *fdt; } __attribute__((preserve_access_index));
struct task_struct { struct files_struct *files; } __attribute__((preserve_access_index));
struct inode { unsigned short i_mode; } __attribute__((preserve_access_index));
struct file { struct inode *f_inode; void *private_data; } __attribute__((preserve_access_index));
struct socket { struct sock *sk; } __attribute__((preserve_access_index));

#define S_IFMT 00170000
#define S_IFSOCK 0140000

static __always_inline struct sock *sock_of(__u64 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return 0;
	struct socket *so = BPF_CORE_READ(f, private_data);
	return so ? BPF_CORE_READ(so, sk) : 0;
}

// tuple_of_fd reads the addresses of the TCP socket fd; 0 when it is none.
static __always_inline int tuple_of_fd(__u64 fd, struct tuple *out)
{
	struct sock *sk = sock_of(fd);
	if (!sk)
		return 0;
	struct tuple t = {};
	t.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t.rport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (t.family == AF_INET) {
		__be32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__be32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(t.local, &l, 4);
		__builtin_memcpy(t.remote, &r, 4);
	} else if (t.family == AF_INET6) {
		BPF_CORE_READ_INTO(&t.local, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&t.remote, sk, __sk_common.skc_v6_daddr);
	} else {
		return 0;
	}
	*out = t;
	return 1;
}

// The x86-64 syscalls an SSL call moves its bytes with; all take the fd
// first.
#define NR_read 0
#define NR_write 1
#define NR_readv 19
#define NR_writev 20
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47

// Kprobes and fentry are not always there (the 6.18 kernel these were
// tested on has no kprobe PMU and refuses fentry programs); the raw
// syscall tracepoint is, and needs no tracefs. A thread inside an SSL call
// that reads or writes a TCP socket does it for that SSL.
SEC("raw_tracepoint/sys_enter")
int sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	long nr = ctx->args[1];
	switch (nr) {
	case NR_read: case NR_write: case NR_readv: case NR_writev:
	case NR_sendto: case NR_recvfrom: case NR_sendmsg: case NR_recvmsg:
		break;
	default:
		return 0;
	}
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct call *c = bpf_map_lookup_elem(&calls, &tid);
	if (!c || c->t.family)
		return 0;
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	__u64 fd = 0;
	// The kernel's x86-64 pt_regs has the user header's layout.
	if (bpf_probe_read_kernel(&fd, sizeof(fd), &regs->rdi))
		return 0;
	tuple_of_fd(fd, &c->t);
	return 0;
}

static __noinline int emit(struct call *cp, __u64 n, __u64 id);

// chunks is the state of emit's loop over the chunks of one call.
struct chunks {
	__u64 buf, n, off, lost_before;
};

// emit_chunk sends the next chunk of x from the scratch event, whose
// header emit filled.
static long emit_chunk(__u32 i, void *ctx)
{
	struct chunks *x = ctx;
	if (x->off >= x->n)
		return 1;
	__u32 zero = 0;
	struct event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 1;
	__u64 len = x->n - x->off;
	if (len > CHUNK)
		len = CHUNK;
	// The verifier must see len <= CHUNK on the register passed.
	barrier_var(len);
	if (len > CHUNK)
		return 1;
	e->h.ts = bpf_ktime_get_ns();
	e->h.len = len;
	e->h.lost = x->lost_before;
	if (bpf_probe_read_user(e->data, len, (void *)(x->buf + x->off)) == 0 &&
	    bpf_ringbuf_output(&events, e, sizeof(e->h) + len, wake_flag()) == 0) {
		x->lost_before = 0;
	} else {
		count(0, 1);
		count(1, len);
		x->lost_before += len;
	}
	x->off += len;
	return 0;
}

// leave emits the bytes the call moved.
static __always_inline int leave(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct call *cp = bpf_map_lookup_elem(&calls, &tid);
	if (!cp)
		return 0;
	struct call c = *cp;
	bpf_map_delete_elem(&calls, &tid);

	struct conn_key ck = { .ssl = c.ssl, .tgid = id >> 32 };
	if (c.t.family && !c.known)
		bpf_map_update_elem(&conns, &ck, &c.t, BPF_ANY);

	__u64 n = 0;
	if (c.size_ptr) {
		if (ret != 1)
			return 0;
		__u64 sz = 0;
		if (bpf_probe_read_user(&sz, sizeof(sz), (void *)c.size_ptr))
			return 0;
		n = sz;
	} else {
		if (ret <= 0)
			return 0;
		n = ret;
	}

	return emit(&c, n, id);
}

// emit copies the n bytes at c->buf into events for the connection
// (tgid of id, c->ssl), split in chunks of CHUNK.
static __noinline int emit(struct call *cp, __u64 n, __u64 id)
{
	struct call c = *cp;
	__u32 tid = (__u32)id;
	struct conn_key ck = { .ssl = c.ssl, .tgid = id >> 32 };
	__u32 zero = 0;
	struct event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	e->h.ssl = c.ssl;
	e->h.tgid = id >> 32;
	e->h.tid = tid;
	e->h.dir = c.dir;
	e->h.kind = KIND_DATA;
	e->h.pad = 0;
	struct tuple *t = bpf_map_lookup_elem(&conns, &ck);
	if (t)
		e->h.t = *t;
	else
		__builtin_memset(&e->h.t, 0, sizeof(e->h.t));

	struct lost_key lk = { .ssl = c.ssl, .tgid = id >> 32, .dir = c.dir };
	__u64 *lp = bpf_map_lookup_elem(&lost, &lk);
	__u64 lost_before = lp ? *lp : 0;

	// bpf_loop: the verifier checks one chunk, not every path through
	// MAX_CHUNKS of them.
	struct chunks x = { .buf = c.buf, .n = n, .lost_before = lost_before };
	bpf_loop(MAX_CHUNKS, emit_chunk, &x, 0);
	__u64 off = x.off;
	lost_before = x.lost_before;
	if (off < n) {
		count(3, n - off);
		lost_before += n - off;
	}
	if (lost_before)
		bpf_map_update_elem(&lost, &lk, &lost_before, BPF_ANY);
	else if (lp)
		bpf_map_delete_elem(&lost, &lk);
	return 0;
}

SEC("uprobe/SSL_write")
int BPF_KPROBE(ssl_write_enter, void *ssl, void *buf, int num) { return enter(ssl, buf, 0, DIR_SENT); }

SEC("uretprobe/SSL_write")
int BPF_KRETPROBE(ssl_write_leave, long ret) { return leave((int)ret); }

SEC("uprobe/SSL_read")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf, int num) { return enter(ssl, buf, 0, DIR_RECEIVED); }

SEC("uretprobe/SSL_read")
int BPF_KRETPROBE(ssl_read_leave, long ret) { return leave((int)ret); }

SEC("uprobe/SSL_write_ex")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, void *buf, __u64 num, __u64 *written)
{
	return enter(ssl, buf, written, DIR_SENT);
}

SEC("uprobe/SSL_read_ex")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, __u64 num, __u64 *readbytes)
{
	return enter(ssl, buf, readbytes, DIR_RECEIVED);
}

// The _ex forms return 1 on success and the count through the pointer.
SEC("uretprobe/SSL_ex")
int BPF_KRETPROBE(ssl_ex_leave, long ret) { return leave((int)ret); }

static __always_inline int freed(void *ssl)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct conn_key ck = { .ssl = (__u64)ssl, .tgid = id >> 32 };
	struct tuple *t = bpf_map_lookup_elem(&conns, &ck);
	if (!t)
		return 0; // no data was seen on it
	struct event_hdr h = {};
	h.ts = bpf_ktime_get_ns();
	h.ssl = (__u64)ssl;
	h.tgid = id >> 32;
	h.tid = (__u32)id;
	h.kind = KIND_FREE;
	h.t = *t;
	bpf_map_delete_elem(&conns, &ck);
	if (bpf_ringbuf_output(&events, &h, sizeof(h), wake_flag()))
		count(0, 1);
	return 0;
}

// SSL_free ends a connection: its SSL* may be reused by the next one.
SEC("uprobe/SSL_free")
int BPF_KPROBE(ssl_free_enter, void *ssl) { return freed(ssl); }

// Go's crypto/tls, in executables that link it (with their symbols).
//
// Go passes arguments in registers (ABIInternal on amd64: RAX, RBX, RCX,
// ...; R14 holds the running goroutine). Return probes are unsafe in Go:
// a uretprobe rewrites the return address on the goroutine's stack, which
// Go moves when it grows, and its tracebacks then fail. So Write's bytes
// are read at its entry (Write sends all of b or fails), and Read's at
// each of its RET instructions (found by user space disassembling the
// function), where RAX holds n; the buffer is saved at entry per
// goroutine, not per thread: a goroutine blocked in Read may resume on
// another thread. The socket is the fd in the Conn: c.conn (a net.Conn
// holding a *net.TCPConn) -> conn.fd (*netFD) -> pfd.Sysfd.

struct go_key { __u64 g; __u32 tgid; __u32 pad; };
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_key);
	__type(value, struct call);
} go_reads SEC(".maps");

// go_call fills a call on the tls.Conn c, with its socket's addresses.
static __always_inline void go_call(struct call *c, __u64 conn, __u64 buf, __u32 dir)
{
	c->ssl = conn;
	c->buf = buf;
	c->dir = dir;
	struct conn_key ck = { .ssl = conn, .tgid = bpf_get_current_pid_tgid() >> 32 };
	struct tuple *t = bpf_map_lookup_elem(&conns, &ck);
	if (t) {
		c->t = *t;
		return;
	}
	// The offsets of Go's own structs, unchanged since Go 1.12: a
	// net.Conn's data word at 8, TCPConn.conn.fd at 0, netFD.pfd.Sysfd
	// at 16 (after poll.fdMutex).
	__u64 data = 0, netfd = 0, fd = 0;
	if (bpf_probe_read_user(&data, 8, (void *)(conn + 8)) || !data ||
	    bpf_probe_read_user(&netfd, 8, (void *)data) || !netfd ||
	    bpf_probe_read_user(&fd, 8, (void *)(netfd + 16)))
		return;
	if (tuple_of_fd(fd, &c->t))
		bpf_map_update_elem(&conns, &ck, &c->t, BPF_ANY);
}

SEC("uprobe/go_tls_write")
int go_tls_write(struct pt_regs *ctx)
{
	__u32 zero = 0;
	struct call *c = bpf_map_lookup_elem(&go_scratch, &zero);
	if (!c)
		return 0;
	__builtin_memset(c, 0, sizeof(*c));
	go_call(c, ctx->rax, ctx->rbx, DIR_SENT);
	return emit(c, ctx->rcx, bpf_get_current_pid_tgid());
}

SEC("uprobe/go_tls_read")
int go_tls_read(struct pt_regs *ctx)
{
	struct go_key k = { .g = ctx->r14, .tgid = bpf_get_current_pid_tgid() >> 32 };
	struct call c = {};
	go_call(&c, ctx->rax, ctx->rbx, DIR_RECEIVED);
	bpf_map_update_elem(&go_reads, &k, &c, BPF_ANY);
	return 0;
}

SEC("uprobe/go_tls_read_ret")
int go_tls_read_ret(struct pt_regs *ctx)
{
	struct go_key k = { .g = ctx->r14, .tgid = bpf_get_current_pid_tgid() >> 32 };
	struct call *cp = bpf_map_lookup_elem(&go_reads, &k);
	if (!cp)
		return 0;
	struct call c = *cp;
	bpf_map_delete_elem(&go_reads, &k);
	long n = ctx->rax;
	if (n <= 0)
		return 0;
	return emit(&c, n, bpf_get_current_pid_tgid());
}

SEC("uprobe/go_tls_close")
int go_tls_close(struct pt_regs *ctx) { return freed((void *)ctx->rax); }
