/*
 * The C epoll anchor of the HTTP comparisons: a keep-alive HTTP/1.1 hello server, the shape of the
 * seed's C epoll server (level-triggered epoll, nonblocking sockets, a fixed response) with its
 * Content-Length right (13 for the 13-byte "Hello, World!") and no per-connection printf. Every
 * request head that ends in a read ("\r\n\r\n", counted across reads) gets one response, so
 * pipelined requests are answered too; the responses of one read leave in one send.
 *
 * It answers the same response as uring_reference.c, byte for byte (see RESPONSE).
 *
 *   cc -O2 -o /tmp/netio-epoll-reference bench/load/servers/epoll_reference.c
 *   /tmp/netio-epoll-reference --port 0 --host 127.0.0.1     # prints "listening on PORT"
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define RESPONSE                                                                                 \
  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"                        \
  "Connection: keep-alive\r\n\r\nHello, World!"
#define RESPONSE_LEN (sizeof(RESPONSE) - 1)
#define BATCH 64 /* responses in the prebuilt batch buffer */

struct conn {
  unsigned char match;  /* bytes of "\r\n\r\n" matched at the end of the last read */
  unsigned char out;    /* EPOLLOUT armed */
  unsigned pending;     /* responses not yet written */
  unsigned offset;      /* bytes of the first pending response already written */
};

static struct conn *conns;
static int max_fd;
static char batch[BATCH * RESPONSE_LEN];

/* Counts the request heads that end in buf, carrying a partial "\r\n\r\n" across reads. */
static unsigned count_heads(struct conn *c, const char *buf, ssize_t n) {
  static const char end[4] = {'\r', '\n', '\r', '\n'};
  unsigned heads = 0, m = c->match;
  for (ssize_t i = 0; i < n; i++) {
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

static void close_conn(int epfd, int fd) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  memset(&conns[fd], 0, sizeof(conns[fd]));
}

/* Writes what is pending; 0 when done or waiting for EPOLLOUT, -1 when the connection failed. */
static int flush(int epfd, int fd) {
  struct conn *c = &conns[fd];
  while (c->pending > 0) {
    unsigned count = c->pending < BATCH ? c->pending : BATCH;
    size_t len = count * RESPONSE_LEN - c->offset;
    ssize_t w = send(fd, batch + c->offset, len, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return -1;
      break;
    }
    size_t done = c->offset + (size_t)w;
    c->pending -= (unsigned)(done / RESPONSE_LEN);
    c->offset = (unsigned)(done % RESPONSE_LEN);
    if ((size_t)w < len) break;
  }
  int want_out = c->pending > 0;
  if (want_out != c->out) {
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.fd = fd};
    epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
    c->out = (unsigned char)want_out;
  }
  return 0;
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

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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

  int epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
  struct epoll_event events[512];
  static char buf[65536];
  for (;;) {
    int n = epoll_wait(epfd, events, 512, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        for (;;) {
          int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (cfd < 0) break;
          if (cfd >= max_fd) {
            close(cfd);
            continue;
          }
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          struct epoll_event cev = {.events = EPOLLIN, .data.fd = cfd};
          epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &cev);
        }
        continue;
      }
      if (events[i].events & (EPOLLERR | EPOLLHUP)) {
        close_conn(epfd, fd);
        continue;
      }
      if (events[i].events & EPOLLOUT) {
        if (flush(epfd, fd) < 0) {
          close_conn(epfd, fd);
          continue;
        }
      }
      if (events[i].events & EPOLLIN) {
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
          close_conn(epfd, fd);
          continue;
        }
        if (r < 0) continue;
        conns[fd].pending += count_heads(&conns[fd], buf, r);
        if (!conns[fd].out && flush(epfd, fd) < 0) close_conn(epfd, fd);
      }
    }
  }
}
