/*
 * C reference peers for bench/load/transfer_compare.ts: what the kernel allows, with no runtime
 * in the way. Built by the comparison with `cc -O2` when a compiler is there.
 *
 *   reference send HOST PORT FILE REPEAT   connect, print "ready", wait for "go" on stdin,
 *                                          sendfile(2) the file REPEAT times (blocking socket),
 *                                          print "sent N", close, exit when stdin closes
 *   reference send-rw HOST PORT FILE REPEAT
 *                                          the same with read(2)/write(2) through a 64 KiB
 *                                          buffer instead of sendfile: the copying floor
 *   reference sink HOST                    listen on an ephemeral port, print "listening on P",
 *                                          read each connection to EOF 1 MiB at a time (a thread
 *                                          per connection), print "received N"; exit when stdin
 *                                          closes
 *   reference get HOST PORT PATH REPEAT    print "ready", wait for "go" on stdin, then REPEAT times:
 *                                          connect, send "GET PATH" with "Connection: close",
 *                                          check for a 200 and read to EOF 1 MiB at a time;
 *                                          print "received N" (every byte, heads included),
 *                                          exit when stdin closes (bench/load/serve_compare.ts)
 *   reference proxy HOST UPSTREAM_PORT     listen on an ephemeral port, print "listening on P",
 *                                          relay each connection to UPSTREAM_PORT with
 *                                          splice(2) through a 1 MiB pipe per direction, one
 *                                          blocking thread per direction (the textbook version),
 *                                          print "relayed A B"; exit when stdin closes
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int connect_to(const char *host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, host, &a.sin_addr);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    perror("connect");
    exit(1);
  }
  return fd;
}

static void wait_line(const char *word) {
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = 0;
    if (strcmp(line, word) == 0) return;
  }
  exit(0);
}

static int send_main(const char *host, int port, const char *path, int repeat, int copy) {
  int sock = connect_to(host, port);
  printf("ready\n");
  fflush(stdout);
  wait_line("go");
  long long total = 0;
  for (int i = 0; i < repeat; i++) {
    int f = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (f < 0 || fstat(f, &st) < 0) {
      perror("open");
      return 1;
    }
    if (copy) {
      static char buf[64 * 1024];
      for (;;) {
        ssize_t n = read(f, buf, sizeof buf);
        if (n < 0) {
          perror("read");
          return 1;
        }
        if (n == 0) break;
        for (ssize_t done = 0; done < n;) {
          ssize_t m = write(sock, buf + done, n - done);
          if (m <= 0) {
            perror("write");
            return 1;
          }
          done += m;
        }
        total += n;
      }
    } else {
      off_t off = 0;
      while (off < st.st_size) {
        ssize_t n = sendfile(sock, f, &off, st.st_size - off);
        if (n <= 0) {
          perror("sendfile");
          return 1;
        }
        total += n;
      }
    }
    close(f);
  }
  printf("sent %lld\n", total);
  fflush(stdout);
  close(sock);
  wait_line("\x01"); /* until stdin closes */
  return 0;
}

static int get_main(const char *host, int port, const char *path, int repeat) {
  char request[512];
  int length = snprintf(request, sizeof request,
                        "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n", path,
                        host, port);
  if (length <= 0 || length >= (int)sizeof request) {
    fprintf(stderr, "get: path too long\n");
    return 2;
  }
  char *buf = malloc(1 << 20);
  printf("ready\n");
  fflush(stdout);
  wait_line("go");
  long long total = 0;
  for (int i = 0; i < repeat; i++) {
    int sock = connect_to(host, port);
    if (write(sock, request, length) != length) {
      perror("write");
      return 1;
    }
    long long got = 0;
    for (;;) {
      ssize_t n = read(sock, buf + (got < 12 ? got : 0), got < 12 ? 12 - got : 1 << 20);
      if (n < 0) {
        perror("read");
        return 1;
      }
      if (n == 0) break;
      got += n;
      if (got == 12 && memcmp(buf, "HTTP/1.1 200", 12) != 0) {
        fprintf(stderr, "get %s: not a 200: %.12s\n", path, buf);
        return 1;
      }
    }
    if (got < 12) {
      fprintf(stderr, "get %s: %lld bytes, no status line\n", path, got);
      return 1;
    }
    total += got;
    close(sock);
  }
  free(buf);
  printf("received %lld\n", total);
  fflush(stdout);
  wait_line("\x01"); /* until stdin closes */
  return 0;
}

struct direction {
  int from, to;
  long long moved;
};

static void *relay(void *arg) {
  struct direction *d = arg;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return NULL;
  fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
  for (;;) {
    ssize_t n = splice(d->from, NULL, p[1], NULL, 1 << 20, SPLICE_F_MOVE);
    if (n <= 0) break;
    while (n > 0) {
      ssize_t m = splice(p[0], NULL, d->to, NULL, n, SPLICE_F_MOVE);
      if (m <= 0) goto out;
      n -= m;
      d->moved += m;
    }
  }
out:
  shutdown(d->to, SHUT_WR);
  close(p[0]);
  close(p[1]);
  return NULL;
}

static const char *g_host;
static int g_upstream;

static void *serve(void *arg) {
  int client = (int)(long)arg;
  int up = connect_to(g_host, g_upstream);
  struct direction ab = {client, up, 0}, ba = {up, client, 0};
  pthread_t t;
  pthread_create(&t, NULL, relay, &ba);
  relay(&ab);
  pthread_join(t, NULL);
  printf("relayed %lld %lld\n", ab.moved, ba.moved);
  fflush(stdout);
  close(up);
  close(client);
  return NULL;
}

static void *stdin_watch(void *arg) {
  (void)arg;
  wait_line("\x01");
  exit(0);
}

static int listen_on(const char *host) {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  inet_pton(AF_INET, host, &a.sin_addr);
  socklen_t len = sizeof a;
  if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 64) < 0 ||
      getsockname(l, (struct sockaddr *)&a, &len) < 0) {
    perror("listen");
    exit(1);
  }
  printf("listening on %d\n", ntohs(a.sin_port));
  fflush(stdout);
  return l;
}

static void *drain(void *arg) {
  int c = (int)(long)arg;
  char *buf = malloc(1 << 20);
  long long total = 0;
  for (;;) {
    ssize_t n = read(c, buf, 1 << 20);
    if (n <= 0) break;
    total += n;
  }
  free(buf);
  close(c);
  printf("received %lld\n", total);
  fflush(stdout);
  return NULL;
}

/* Listens on `host` and runs `per_connection` on a thread of its own for every connection, until
 * stdin closes (stdin_watch exits the process). */
static _Noreturn void accept_forever(const char *host, void *(*per_connection)(void *)) {
  int l = listen_on(host);
  pthread_t w;
  pthread_create(&w, NULL, stdin_watch, NULL);
  for (;;) {
    int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) continue;
    pthread_t t;
    pthread_create(&t, NULL, per_connection, (void *)(long)c);
    pthread_detach(t);
  }
}

static int sink_main(const char *host) {
  accept_forever(host, drain);
}

static int proxy_main(const char *host, int upstream) {
  g_host = host;
  g_upstream = upstream;
  accept_forever(host, serve);
}

int main(int argc, char **argv) {
  if (argc == 6 && strcmp(argv[1], "send") == 0) {
    return send_main(argv[2], atoi(argv[3]), argv[4], atoi(argv[5]), 0);
  }
  if (argc == 6 && strcmp(argv[1], "send-rw") == 0) {
    return send_main(argv[2], atoi(argv[3]), argv[4], atoi(argv[5]), 1);
  }
  if (argc == 3 && strcmp(argv[1], "sink") == 0) return sink_main(argv[2]);
  if (argc == 6 && strcmp(argv[1], "get") == 0) {
    return get_main(argv[2], atoi(argv[3]), argv[4], atoi(argv[5]));
  }
  if (argc == 4 && strcmp(argv[1], "proxy") == 0) return proxy_main(argv[2], atoi(argv[3]));
  fprintf(stderr, "usage: reference send|send-rw HOST PORT FILE REPEAT | reference sink HOST"
                  " | reference get HOST PORT PATH REPEAT | reference proxy HOST UPSTREAM\n");
  return 2;
}
