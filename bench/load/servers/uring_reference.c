/*
 * The C io_uring anchor of the HTTP comparisons: a keep-alive HTTP/1.1 hello server on liburing,
 * answering the same bytes as epoll_reference.c (see RESPONSE):
 *
 * - one multishot accept on the listener;
 * - one multishot recv per connection into a provided buffer ring (IORING_REGISTER_PBUF_RING:
 *   buffers are shared by every connection, none is held by an idle one), re-armed when the
 *   kernel ends it (no IORING_CQE_F_MORE, e.g. on ENOBUFS);
 * - a send per read from one prebuilt buffer of responses (every request head that ends in the
 *   read, "\r\n\r\n" counted across reads, gets one response, so pipelining works); at most one
 *   send in flight per connection, so responses stay in order;
 * - one io_uring_submit_and_wait per turn (SINGLE_ISSUER | DEFER_TASKRUN where the kernel takes
 *   them, else COOP_TASKRUN, else none).
 *
 *   cc -O2 -o /tmp/netio-uring-reference bench/load/servers/uring_reference.c -luring
 *   /tmp/netio-uring-reference --port 0 --host 127.0.0.1     # prints "listening on PORT"
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define RESPONSE                                                                                 \
  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"                        \
  "Connection: keep-alive\r\n\r\nHello, World!"
#define RESPONSE_LEN (sizeof(RESPONSE) - 1)
#define BATCH 64 /* responses in the prebuilt batch buffer */

#define RING_ENTRIES 4096
#define BUF_COUNT 1024 /* provided buffers (a power of two) */
#define BUF_SIZE 4096
#define BGID 0

enum { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3 };

struct conn {
  unsigned char match;   /* bytes of "\r\n\r\n" matched at the end of the last read */
  unsigned char sending; /* a send is in flight */
  unsigned char closing; /* the peer is gone: close once the send completes */
  unsigned pending;      /* responses not yet sent (the one in flight included) */
  unsigned offset;       /* bytes of the first pending response already sent */
  unsigned inflight;     /* bytes of the send in flight */
};

static struct io_uring ring;
static struct io_uring_buf_ring *buf_ring;
static char *buffers;
static struct conn *conns;
static int max_fd;
static char batch[BATCH * RESPONSE_LEN];

static inline __u64 tag(int op, int fd) { return ((__u64)op << 32) | (unsigned)fd; }

static struct io_uring_sqe *sqe_get(void) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
  if (sqe == NULL) {
    io_uring_submit(&ring); /* the ring is full: submit what is there and take a fresh slot */
    sqe = io_uring_get_sqe(&ring);
  }
  return sqe;
}

static void arm_accept(int lfd) {
  struct io_uring_sqe *sqe = sqe_get();
  io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, tag(OP_ACCEPT, lfd));
}

static void arm_recv(int fd) {
  struct io_uring_sqe *sqe = sqe_get();
  io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = BGID;
  io_uring_sqe_set_data64(sqe, tag(OP_RECV, fd));
}

static void send_pending(int fd) {
  struct conn *c = &conns[fd];
  unsigned count = c->pending < BATCH ? c->pending : BATCH;
  c->inflight = (unsigned)(count * RESPONSE_LEN - c->offset);
  c->sending = 1;
  struct io_uring_sqe *sqe = sqe_get();
  io_uring_prep_send(sqe, fd, batch + c->offset, c->inflight, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, tag(OP_SEND, fd));
}

static void close_conn(int fd) {
  memset(&conns[fd], 0, sizeof(conns[fd]));
  close(fd);
}

static void recycle(unsigned bid) {
  io_uring_buf_ring_add(buf_ring, buffers + (size_t)bid * BUF_SIZE, BUF_SIZE, (unsigned short)bid,
                        io_uring_buf_ring_mask(BUF_COUNT), 0);
  io_uring_buf_ring_advance(buf_ring, 1);
}

/* Counts the request heads that end in buf, carrying a partial "\r\n\r\n" across reads. */
static unsigned count_heads(struct conn *c, const char *buf, int n) {
  static const char end[4] = {'\r', '\n', '\r', '\n'};
  unsigned heads = 0, m = c->match;
  for (int i = 0; i < n; i++) {
    char b = buf[i];
    if (b == end[m]) {
      if (++m == 4) {
        heads++;
        m = 0;
      }
    } else {
      m = b == '\r' ? 1 : 0;
    }
  }
  c->match = (unsigned char)m;
  return heads;
}

static void on_recv(int fd, int res, unsigned flags) {
  struct conn *c = &conns[fd];
  if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
    unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    c->pending += count_heads(c, buffers + (size_t)bid * BUF_SIZE, res);
    recycle(bid);
    if (!c->sending && c->pending > 0) send_pending(fd);
    if (!(flags & IORING_CQE_F_MORE)) arm_recv(fd);
    return;
  }
  if (res == -ENOBUFS) {
    if (!(flags & IORING_CQE_F_MORE)) arm_recv(fd);
    return;
  }
  if (flags & IORING_CQE_F_MORE) return; /* still armed */
  /* EOF or an error: the multishot recv has ended. */
  if (c->sending) {
    c->closing = 1;
  } else {
    close_conn(fd);
  }
}

static void on_send(int fd, int res) {
  struct conn *c = &conns[fd];
  c->sending = 0;
  if (res < 0 || c->closing) {
    if (c->closing) {
      close_conn(fd);
    } else {
      c->closing = 1; /* the recv will end too; close then */
      shutdown(fd, SHUT_RDWR);
    }
    return;
  }
  size_t done = c->offset + (size_t)res;
  c->pending -= (unsigned)(done / RESPONSE_LEN);
  c->offset = (unsigned)(done % RESPONSE_LEN);
  if (c->pending > 0) send_pending(fd);
}

static int setup_ring(void) {
  const unsigned tries[] = {
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
    IORING_SETUP_COOP_TASKRUN,
    0,
  };
  int r = -EINVAL;
  for (unsigned i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
    struct io_uring_params params;
    memset(&params, 0, sizeof(params));
    params.flags = tries[i] | IORING_SETUP_CQSIZE;
    params.cq_entries = RING_ENTRIES * 4;
    r = io_uring_queue_init_params(RING_ENTRIES, &ring, &params);
    if (r == 0) return 0;
  }
  return r;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 8080;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) {
      port = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--host") && i + 1 < argc) {
      host = argv[++i];
    } else {
      fprintf(stderr, "usage: %s [--port N] [--host ADDR]\n", argv[0]);
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  max_fd = (int)(rl.rlim_cur > 1048576 ? 1048576 : rl.rlim_cur);
  conns = calloc((size_t)max_fd, sizeof(struct conn));
  for (int i = 0; i < BATCH; i++) memcpy(batch + i * RESPONSE_LEN, RESPONSE, RESPONSE_LEN);

  int r = setup_ring();
  if (r < 0) {
    fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-r));
    return 1;
  }
  /* The provided buffer ring: page-aligned ring memory, registered, then every buffer added. */
  size_t ring_bytes = BUF_COUNT * sizeof(struct io_uring_buf);
  buf_ring = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  buffers = malloc((size_t)BUF_COUNT * BUF_SIZE);
  if (buf_ring == MAP_FAILED || buffers == NULL) {
    perror("buffers");
    return 1;
  }
  struct io_uring_buf_reg reg = {
    .ring_addr = (unsigned long)buf_ring, .ring_entries = BUF_COUNT, .bgid = BGID};
  r = io_uring_register_buf_ring(&ring, &reg, 0);
  if (r < 0) {
    fprintf(stderr, "io_uring_register_buf_ring: %s\n", strerror(-r));
    return 1;
  }
  io_uring_buf_ring_init(buf_ring);
  for (unsigned i = 0; i < BUF_COUNT; i++) {
    io_uring_buf_ring_add(buf_ring, buffers + (size_t)i * BUF_SIZE, BUF_SIZE, (unsigned short)i,
                          io_uring_buf_ring_mask(BUF_COUNT), (int)i);
  }
  io_uring_buf_ring_advance(buf_ring, BUF_COUNT);

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "bad --host %s\n", host);
    return 2;
  }
  if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 4096) < 0) {
    perror("bind/listen");
    return 1;
  }
  socklen_t alen = sizeof(addr);
  getsockname(lfd, (struct sockaddr *)&addr, &alen);
  printf("listening on %d\n", ntohs(addr.sin_port));
  fflush(stdout);

  arm_accept(lfd);
  for (;;) {
    r = io_uring_submit_and_wait(&ring, 1);
    if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
      fprintf(stderr, "io_uring_submit_and_wait: %s\n", strerror(-r));
      return 1;
    }
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      seen++;
      int op = (int)(cqe->user_data >> 32);
      int fd = (int)(cqe->user_data & 0xffffffffu);
      int res = cqe->res;
      unsigned flags = cqe->flags;
      if (op == OP_ACCEPT) {
        if (res >= 0) {
          if (res >= max_fd) {
            close(res);
          } else {
            setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            arm_recv(res);
          }
        }
        if (!(flags & IORING_CQE_F_MORE)) arm_accept(lfd);
      } else if (op == OP_RECV) {
        on_recv(fd, res, flags);
      } else if (op == OP_SEND) {
        on_send(fd, res);
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
}
