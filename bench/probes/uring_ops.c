/*
 * uring_ops.c - does io_uring SEND_ZC or fixed files (registered fds) pay here?
 *
 * What it measures (every figure is a RATIO of two variants run side by side,
 * rounds interleaved A,B,B,A,A,B,B,A; each variant's median of ROUNDS=4 rounds):
 *   Test 1  IORING_OP_SEND vs IORING_OP_SEND_ZC over TCP loopback (TCP_NODELAY),
 *           send sizes 4 KiB, 60 KiB, 64 KiB, 1 MiB, QD=4 sends in flight, 1 GiB
 *           per round. 60 KiB is a control: loopback's MTU is 64 KiB, and
 *           plain SEND of exactly 64 KiB (or 128 KiB) is slow there, a
 *           segmentation artifact of lo that SEND_ZC happens not to hit.
 *           Sender = this process pinned to core 0; receiver = forked process
 *           pinned to core 1 doing blocking recv() of 1 MiB. A SEND_ZC slot is
 *           reused only after its IORING_CQE_F_NOTIF notification.
 *           Reported per GiB: sender CPU (getrusage user+sys) and machine-wide
 *           busy CPU (/proc/stat, all cores, total - idle - iowait).
 *   Test 2  plain fds vs fixed files (io_uring_register_files + IOSQE_FIXED_FILE).
 *           50 TCP loopback connections, 64-byte ping-pong. Server = this
 *           process (core 0): recv and send both on the ring, one
 *           io_uring_submit_and_wait() per batch. Clients = forked process
 *           (core 1): write 64 B on all 50 sockets, read 64 B from all 50,
 *           repeat for 2 s. Reported: server CPU (user+sys) per message.
 *
 * Build (from the repo root):
 *         cc -O2 -o /tmp/uring_ops bench/probes/uring_ops.c -luring
 * Run:    /tmp/uring_ops [GiB_per_round=1] [seconds_per_pingpong_round=2]
 *         It first waits (bounded: 15 min, polled every 10 s) until
 *         `pgrep -f "bench/report.ts|backend_compare"` finds nothing and the
 *         1-minute load average is < 1.0, and it aborts if such a benchmark
 *         starts between rounds. Measuring takes ~60 s; a watchdog kills it at
 *         WATCHDOG s. Every syscall is checked; any failure exits non-zero.
 *
 * Output: one "round" line per measured round (absolute values, to show the
 * noise), then per size/test a "median" line per variant and a "RATIO" line:
 *   RATIO ZC/SEND sender-cpu X machine-cpu Y throughput Z
 *   RATIO fixed/plain cpu-per-msg X throughput Y
 * CPU ratios < 1 mean the second variant (SEND_ZC, fixed) costs less CPU;
 * throughput ratios > 1 mean it moved more. "zc-copied" counts notifications
 * flagged IORING_NOTIF_USAGE_ZC_COPIED, i.e. the kernel fell back to copying.
 * /proc/stat ticks are 1/HZ s, so machine-wide figures carry ~1-2 % granularity.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

#define ROUNDS 4          /* rounds per variant */
#define QD 4              /* test 1: sends in flight */
#define NCONN 50          /* test 2: connections */
#define MSG 64            /* test 2: message size */
#define WATCHDOG 170      /* seconds, measuring part */
#define CTL_UD (~0ULL)
#define CANCEL_UD (~0ULL - 1)

static double gib_per_round = 1.0, secs_per_round = 2.0;

#define DIE(...) do { fprintf(stderr, "uring_ops: line %d: ", __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)
/* libc style: -1 + errno */
#define CK(x) do { if ((x) < 0) DIE("%s: %s", #x, strerror(errno)); } while (0)
/* liburing style: -errno */
#define CKU(x) do { int r_ = (x); if (r_ < 0) DIE("%s: %s", #x, strerror(-r_)); } while (0)

static double now(void) {
	struct timespec t;
	CK(clock_gettime(CLOCK_MONOTONIC, &t));
	return t.tv_sec + t.tv_nsec * 1e-9;
}

/* seconds user+sys, all threads of this process */
static double self_cpu(void) {
	struct rusage ru;
	CK(getrusage(RUSAGE_SELF, &ru));
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* busy CPU-seconds summed over all cores: total - idle - iowait */
static double machine_busy(void) {
	unsigned long long v[8], total = 0;
	FILE *f = fopen("/proc/stat", "r");
	if (!f) DIE("open /proc/stat: %s", strerror(errno));
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
		   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		DIE("parse /proc/stat");
	fclose(f);
	for (int i = 0; i < 8; i++) total += v[i];
	return (double)(total - v[3] - v[4]) / sysconf(_SC_CLK_TCK);
}

static void pin(int cpu) {
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	CK(sched_setaffinity(0, sizeof s, &s));
}

static void xwrite(int fd, const void *p, size_t n) {
	while (n) {
		ssize_t r;
		CK(r = write(fd, p, n));
		p = (const char *)p + r, n -= r;
	}
}

static void xread(int fd, void *p, size_t n) {
	while (n) {
		ssize_t r;
		CK(r = read(fd, p, n));
		if (r == 0) DIE("unexpected EOF on fd %d", fd);
		p = (char *)p + r, n -= r;
	}
}

static int cmp_dbl(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(const double *v, int n) {
	double s[ROUNDS];
	memcpy(s, v, n * sizeof *v);
	qsort(s, n, sizeof *s, cmp_dbl);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static struct io_uring_sqe *sqe(struct io_uring *r) {
	struct io_uring_sqe *q = io_uring_get_sqe(r);
	if (!q) DIE("SQ full");
	return q;
}

static int variant_of(int round) { return ((round + 1) / 2) % 2; } /* A B B A A B B A */

/* 1 if another benchmark runs: exec pgrep directly (no shell that could match itself) */
static int bench_running(void) {
	int st;
	pid_t p;
	CK(p = fork());
	if (p == 0) {
		int dn = open("/dev/null", O_WRONLY);
		if (dn < 0 || dup2(dn, 1) < 0) _exit(2);
		execlp("pgrep", "pgrep", "-f", "bench/report.ts|backend_compare", (char *)0);
		_exit(127);
	}
	CK(waitpid(p, &st, 0));
	if (!WIFEXITED(st) || WEXITSTATUS(st) > 1) DIE("pgrep failed (status 0x%x)", st);
	return WEXITSTATUS(st) == 0;
}

static void wait_quiet(void) {
	for (int i = 0; i <= 90; i++) { /* 90 x 10 s = 15 min */
		double la;
		if (getloadavg(&la, 1) != 1) DIE("getloadavg failed");
		int busy = bench_running();
		if (!busy && la < 1.0) {
			printf("# quiet after %d s wait (load1 %.2f)\n", i * 10, la);
			return;
		}
		if (i == 90)
			DIE("machine not quiet after 15 min (bench running: %d, load1 %.2f)", busy, la);
		fprintf(stderr, "uring_ops: waiting: other bench %s, load1 %.2f\n",
			busy ? "running" : "gone", la);
		sleep(10); /* polling interval, not a stand-in for an event */
	}
}

static int nodelay(int fd) {
	int one = 1;
	CK(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
	return fd;
}

static int listener(struct sockaddr_in *a) {
	socklen_t n = sizeof *a;
	int l;
	CK(l = socket(AF_INET, SOCK_STREAM, 0));
	*a = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CK(bind(l, (struct sockaddr *)a, sizeof *a));
	CK(listen(l, 128));
	CK(getsockname(l, (struct sockaddr *)a, &n));
	return l;
}

static int dial(const struct sockaddr_in *a) {
	int fd;
	CK(fd = socket(AF_INET, SOCK_STREAM, 0));
	CK(connect(fd, (const struct sockaddr *)a, sizeof *a));
	return nodelay(fd);
}

/* fork a helper pinned to cpu that dies with us */
static pid_t spawn(int cpu) {
	pid_t p;
	CK(p = fork());
	if (p == 0) {
		CK(prctl(PR_SET_PDEATHSIG, SIGKILL));
		alarm(WATCHDOG);
		pin(cpu);
	}
	return p;
}

static void reap(pid_t p) {
	int st;
	CK(waitpid(p, &st, 0));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		DIE("child %d failed (status 0x%x)", (int)p, st);
}

/* ---------- Test 1: SEND vs SEND_ZC ---------- */

/* push exactly `bytes` through fd; slot s is busy until its result (and, for
 * SEND_ZC with F_MORE, its notification) CQE arrived */
static void send_round(struct io_uring *r, int fd, int zc, size_t size, char *bufs,
		       uint64_t bytes, uint64_t *notifs, uint64_t *copied) {
	int state[QD] = {0}; /* 0 free, 1 result pending, 2 notif pending */
	size_t len[QD];
	uint64_t queued = 0, done = 0;
	for (;;) {
		int busy = 0;
		for (int s = 0; s < QD; s++) {
			if (state[s] == 0 && queued < bytes) {
				struct io_uring_sqe *q = sqe(r);
				len[s] = bytes - queued < size ? bytes - queued : size;
				if (zc)
					io_uring_prep_send_zc(q, fd, bufs + s * size, len[s], 0,
							      IORING_SEND_ZC_REPORT_USAGE);
				else
					io_uring_prep_send(q, fd, bufs + s * size, len[s], 0);
				io_uring_sqe_set_data64(q, s);
				state[s] = 1, queued += len[s];
			}
			busy |= state[s];
		}
		if (!busy && done == bytes) return;
		CKU(io_uring_submit_and_wait(r, 1));
		unsigned head, n = 0;
		struct io_uring_cqe *c;
		io_uring_for_each_cqe(r, head, c) {
			int s = (int)c->user_data;
			n++;
			if (c->flags & IORING_CQE_F_NOTIF) {
				if (state[s] != 2)
					DIE("notification for slot %d in state %d", s, state[s]);
				state[s] = 0, (*notifs)++;
				*copied += ((unsigned)c->res & IORING_NOTIF_USAGE_ZC_COPIED) != 0;
				continue;
			}
			if (state[s] != 1) DIE("result for slot %d in state %d", s, state[s]);
			if (c->res <= 0)
				DIE("send%s: %s", zc ? "_zc" : "", c->res ? strerror(-c->res) : "0 bytes");
			done += c->res;
			queued -= len[s] - c->res; /* short send: queue the rest again */
			state[s] = (c->flags & IORING_CQE_F_MORE) ? 2 : 0;
		}
		io_uring_cq_advance(r, n);
	}
}

static void test_send(void) {
	static const size_t sizes[] = {4096, 61440, 65536, 1 << 20};
	static const char *vname[] = {"SEND", "SEND_ZC"};
	const uint64_t bytes = (uint64_t)(gib_per_round * (1 << 30)) & ~((uint64_t)(1 << 20) - 1);
	struct sockaddr_in a;
	int ctl[2], ack[2], l = listener(&a);
	CK(pipe(ctl) | pipe(ack));
	pid_t p = spawn(1);
	if (p == 0) { /* receiver: drain until the cumulative target, then ack */
		int c;
		CK(c = accept(l, NULL, NULL));
		char *b = malloc(1 << 20);
		uint64_t total = 0, target;
		if (!b) DIE("malloc");
		for (;;) {
			xread(ctl[0], &target, sizeof target);
			if (target == 0) _exit(0);
			while (total < target) {
				ssize_t n;
				CK(n = recv(c, b, 1 << 20, 0));
				if (n == 0) DIE("receiver: EOF at %llu", (unsigned long long)total);
				total += n;
			}
			xwrite(ack[1], &total, sizeof total);
		}
	}
	int fd = dial(&a);
	CK(close(l));
	struct io_uring r;
	CKU(io_uring_queue_init(2 * QD, &r, 0));
	struct io_uring_probe *pr = io_uring_get_probe_ring(&r);
	if (!pr || !io_uring_opcode_supported(pr, IORING_OP_SEND_ZC))
		DIE("kernel lacks IORING_OP_SEND_ZC");
	io_uring_free_probe(pr);
	char *bufs = aligned_alloc(4096, QD << 20);
	if (!bufs) DIE("aligned_alloc");
	memset(bufs, 'x', QD << 20);

	printf("== Test 1: SEND vs SEND_ZC, TCP loopback, %.2f GiB/round, QD %d, "
	       "sender core 0, receiver core 1 ==\n", bytes / 1073741824.0, QD);
	uint64_t sent = 0;
	for (int si = 0; si < 4; si++) {
		size_t size = sizes[si];
		double tp[2][ROUNDS], sc[2][ROUNDS], mc[2][ROUNDS];
		uint64_t notifs = 0, copied = 0;
		int k[2] = {0, 0};
		for (int i = 0; i < 2 * ROUNDS; i++) {
			int v = variant_of(i);
			uint64_t got;
			if (bench_running())
				DIE("another benchmark started; aborting so as not to disturb it");
			sent += bytes;
			double t0 = now(), c0 = self_cpu(), m0 = machine_busy();
			xwrite(ctl[1], &sent, sizeof sent);
			send_round(&r, fd, v, size, bufs, bytes, &notifs, &copied);
			xread(ack[0], &got, sizeof got);
			double m1 = machine_busy(), c1 = self_cpu(), t1 = now();
			if (got != sent)
				DIE("receiver got %llu, expected %llu", (unsigned long long)got,
				    (unsigned long long)sent);
			double gib = bytes / 1073741824.0;
			tp[v][k[v]] = gib / (t1 - t0);
			sc[v][k[v]] = (c1 - c0) / gib;
			mc[v][k[v]] = (m1 - m0) / gib;
			printf("round %7zuB %-7s  %6.2f GiB/s  sender %.3f cpu-s/GiB  machine %.3f cpu-s/GiB\n",
			       size, vname[v], tp[v][k[v]], sc[v][k[v]], mc[v][k[v]]);
			k[v]++;
		}
		double T[2], S[2], M[2];
		for (int v = 0; v < 2; v++) {
			T[v] = median(tp[v], ROUNDS), S[v] = median(sc[v], ROUNDS);
			M[v] = median(mc[v], ROUNDS);
			printf("median %6zuB %-7s %6.2f GiB/s  sender %.3f cpu-s/GiB  machine %.3f cpu-s/GiB\n",
			       size, vname[v], T[v], S[v], M[v]);
		}
		printf("RATIO %7zuB ZC/SEND sender-cpu %.3f machine-cpu %.3f throughput %.3f"
		       "  (zc-copied %llu of %llu notifs)\n", size, S[1] / S[0], M[1] / M[0],
		       T[1] / T[0], (unsigned long long)copied, (unsigned long long)notifs);
	}
	uint64_t zero = 0;
	xwrite(ctl[1], &zero, sizeof zero);
	reap(p);
	io_uring_queue_exit(&r);
	free(bufs);
	CK(close(fd) | close(ctl[0]) | close(ctl[1]) | close(ack[0]) | close(ack[1]));
}

/* ---------- Test 2: plain fds vs fixed files ---------- */

static char cbuf[NCONN][MSG];

static void arm(struct io_uring *r, const int *fds, int fixed, int i, int send, unsigned len) {
	struct io_uring_sqe *q = sqe(r);
	int fd = fixed ? i : fds[i];
	if (send)
		io_uring_prep_send(q, fd, cbuf[i], len, 0);
	else
		io_uring_prep_recv(q, fd, cbuf[i], MSG, 0);
	if (fixed) q->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(q, (uint64_t)i * 2 + send);
}

/* echo until the client reports (via ctlfd) that its round ended, then cancel
 * the parked recvs so the next round may use another ring; returns bytes echoed */
static uint64_t serve_round(struct io_uring *r, const int *fds, int fixed, int ctlfd,
			    uint64_t *client_msgs) {
	unsigned slen[NCONN];
	int inflight = NCONN, nsend = 0, ctl_pending = 1, stop = 0, cancel = 0;
	uint64_t bytes = 0;
	for (int i = 0; i < NCONN; i++) arm(r, fds, fixed, i, 0, 0);
	struct io_uring_sqe *q = sqe(r);
	io_uring_prep_read(q, ctlfd, client_msgs, sizeof *client_msgs, (uint64_t)-1);
	io_uring_sqe_set_data64(q, CTL_UD);
	while (inflight || ctl_pending || cancel == 1) {
		if (stop && !cancel && nsend == 0) {
			q = sqe(r);
			io_uring_prep_cancel64(q, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
			io_uring_sqe_set_data64(q, CANCEL_UD);
			cancel = 1;
		}
		CKU(io_uring_submit_and_wait(r, 1));
		unsigned head, n = 0;
		struct io_uring_cqe *c;
		io_uring_for_each_cqe(r, head, c) {
			n++;
			if (c->user_data == CTL_UD) {
				if (c->res != sizeof *client_msgs) DIE("ctl read: %d", c->res);
				ctl_pending = 0, stop = 1;
				continue;
			}
			if (c->user_data == CANCEL_UD) {
				if (c->res != NCONN)
					DIE("cancel: %d (expected %d parked recvs)", c->res, NCONN);
				cancel = 2;
				continue;
			}
			int i = (int)(c->user_data / 2), is_send = c->user_data & 1;
			inflight--;
			if (is_send) {
				nsend--;
				if (c->res != (int)slen[i])
					DIE("send conn %d: %d of %u", i, c->res, slen[i]);
				bytes += c->res;
				arm(r, fds, fixed, i, 0, 0), inflight++;
			} else {
				if (c->res == -ECANCELED && cancel) continue;
				if (c->res <= 0)
					DIE("recv conn %d: %s", i, c->res ? strerror(-c->res) : "EOF");
				if (cancel) DIE("data on conn %d after the client stopped", i);
				slen[i] = c->res; /* echo exactly what arrived */
				arm(r, fds, fixed, i, 1, slen[i]);
				nsend++, inflight++;
			}
		}
		io_uring_cq_advance(r, n);
	}
	return bytes;
}

static void client(const struct sockaddr_in *a, int cin, int cout) {
	int fds[NCONN];
	char m[MSG];
	memset(m, 'p', MSG);
	for (int i = 0; i < NCONN; i++) fds[i] = dial(a);
	for (;;) {
		char cmd;
		xread(cin, &cmd, 1);
		if (cmd == 'q') _exit(0);
		uint64_t msgs = 0;
		double end = now() + secs_per_round;
		while (now() < end) {
			for (int i = 0; i < NCONN; i++) xwrite(fds[i], m, MSG);
			for (int i = 0; i < NCONN; i++) xread(fds[i], m, MSG);
			msgs += NCONN;
		}
		xwrite(cout, &msgs, sizeof msgs);
	}
}

static void test_fixed(void) {
	static const char *vname[] = {"plain", "fixed"};
	struct sockaddr_in a;
	int s2c[2], c2s[2], fds[NCONN], l = listener(&a);
	CK(pipe(s2c) | pipe(c2s));
	pid_t p = spawn(1);
	if (p == 0) client(&a, s2c[0], c2s[1]);
	for (int i = 0; i < NCONN; i++) {
		CK(fds[i] = accept(l, NULL, NULL));
		nodelay(fds[i]);
	}
	CK(close(l));
	struct io_uring r[2]; /* r[0]: plain fds, r[1]: same fds registered */
	CKU(io_uring_queue_init(64, &r[0], 0));
	CKU(io_uring_queue_init(64, &r[1], 0));
	CKU(io_uring_register_files(&r[1], fds, NCONN));

	printf("== Test 2: plain fds vs fixed files, %d conns, %d B ping-pong, %.1f s/round, "
	       "server core 0, clients core 1 ==\n", NCONN, MSG, secs_per_round);
	double us[2][ROUNDS], rate[2][ROUNDS];
	int k[2] = {0, 0};
	for (int i = 0; i < 2 * ROUNDS; i++) {
		int v = variant_of(i);
		uint64_t msgs = 0;
		if (bench_running())
			DIE("another benchmark started; aborting so as not to disturb it");
		double t0 = now(), c0 = self_cpu();
		xwrite(s2c[1], "g", 1);
		uint64_t bytes = serve_round(&r[v], fds, v, c2s[0], &msgs);
		double c1 = self_cpu(), t1 = now();
		if (msgs == 0 || bytes != msgs * MSG)
			DIE("server echoed %llu B, client counted %llu msgs",
			    (unsigned long long)bytes, (unsigned long long)msgs);
		us[v][k[v]] = (c1 - c0) / msgs * 1e6;
		rate[v][k[v]] = msgs / (t1 - t0);
		printf("round %-5s  %9.0f msg/s  server %.3f us-cpu/msg\n", vname[v],
		       rate[v][k[v]], us[v][k[v]]);
		k[v]++;
	}
	double U[2], R[2];
	for (int v = 0; v < 2; v++) {
		U[v] = median(us[v], ROUNDS), R[v] = median(rate[v], ROUNDS);
		printf("median %-5s %9.0f msg/s  server %.3f us-cpu/msg\n", vname[v], R[v], U[v]);
	}
	printf("RATIO fixed/plain cpu-per-msg %.3f throughput %.3f\n", U[1] / U[0], R[1] / R[0]);
	xwrite(s2c[1], "q", 1);
	reap(p);
	io_uring_queue_exit(&r[0]);
	io_uring_queue_exit(&r[1]);
	for (int i = 0; i < NCONN; i++) CK(close(fds[i]));
	CK(close(s2c[0]) | close(s2c[1]) | close(c2s[0]) | close(c2s[1]));
}

int main(int argc, char **argv) {
	if (argc > 1) gib_per_round = atof(argv[1]);
	if (argc > 2) secs_per_round = atof(argv[2]);
	if (argc > 3 || gib_per_round < 0.01 || gib_per_round > 8 ||
	    secs_per_round < 0.1 || secs_per_round > 10)
		DIE("usage: %s [GiB_per_round 0.01..8] [seconds_per_round 0.1..10]", argv[0]);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) DIE("needs at least 2 CPUs");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) DIE("signal");
	wait_quiet();
	alarm(WATCHDOG); /* default action kills us: no hang goes unnoticed */
	pin(0);
	double t0 = now();
	test_send();
	test_fixed();
	printf("# total measuring time %.1f s\n", now() - t0);
	return 0;
}
