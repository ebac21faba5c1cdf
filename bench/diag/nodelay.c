/* Diagnosis only (bench/run.sh measurement 4): an LD_PRELOAD shim that sets TCP_NODELAY on every accepted
 * socket, to show what the reference server's authenticated tools/call rate would be without Nagle's algorithm
 * delaying the later chunks of its chunked SSE responses. Not how the server ships.
 *   cc -shared -fPIC -O2 -o nodelay.so nodelay.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static void nodelay(int fd) {
  int one = 1;
  if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
  static int (*real)(int, struct sockaddr *, socklen_t *, int);
  if (!real) real = dlsym(RTLD_NEXT, "accept4");
  int s = real(fd, addr, len, flags);
  nodelay(s);
  return s;
}

int accept(int fd, struct sockaddr *addr, socklen_t *len) {
  static int (*real)(int, struct sockaddr *, socklen_t *);
  if (!real) real = dlsym(RTLD_NEXT, "accept");
  int s = real(fd, addr, len);
  nodelay(s);
  return s;
}
