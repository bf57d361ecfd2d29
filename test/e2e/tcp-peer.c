/* Test peer for the TCP e2e tests: small, deterministic TCP behaviours the diagnosers must recognise.
 *
 *   tcp-peer rr-server ADDR PORT REQ RESP     accept one connection; repeat: read REQ bytes, write RESP bytes
 *                                             in one write; exit at EOF.
 *       env LISTEN_RCVBUF=N  setsockopt(SO_RCVBUF, N) on the listening socket before listen()
 *       env ACCEPT_RCVBUF=N  setsockopt(SO_RCVBUF, N) on the accepted socket right after accept()
 *   tcp-peer rr-client ADDR PORT N HDR BODY RESP   N times: write HDR bytes, write BODY bytes, read RESP bytes
 *       env NODELAY=1        set TCP_NODELAY first
 *       env HOLD_MS=N        print the report, then keep the connection open N ms before closing
 *   tcp-peer sink-server ADDR PORT [PAUSE_MS] accept one connection, (wait PAUSE_MS without reading,) read
 *                                             until EOF
 *   tcp-peer bulk-client ADDR PORT BYTES      connect, write BYTES, close
 *   tcp-peer listen-only ADDR PORT BACKLOG    listen with BACKLOG and never accept (until killed)
 *   tcp-peer flood ADDR PORT COUNT WAIT_MS    start COUNT non-blocking connects, keep them WAIT_MS, exit
 *   tcp-peer try-connect ADDR PORT           one blocking connect; reports its errno (0 on success)
 *
 * Servers print {"ready":PORT} once listening; every mode prints one JSON line when done. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) { perror(what); exit(1); }

static socklen_t make_addr(const char *ip, int port, struct sockaddr_storage *ss) {
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		if (inet_pton(AF_INET6, ip, &a->sin6_addr) != 1) die("inet_pton");
		return sizeof(*a);
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	if (inet_pton(AF_INET, ip, &a->sin_addr) != 1) die("inet_pton");
	return sizeof(*a);
}

static int local_port(int fd) {
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &l);
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
}

static int env_int(const char *name) { const char *v = getenv(name); return v ? atoi(v) : 0; }

static void set_rcvbuf(int fd, int n) {
	if (n && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &n, sizeof(n))) die("SO_RCVBUF");
}

static int listen_on(const char *ip, int port, int backlog) {
	struct sockaddr_storage ss;
	socklen_t len = make_addr(ip, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0) die("socket");
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	set_rcvbuf(fd, env_int("LISTEN_RCVBUF"));
	if (bind(fd, (struct sockaddr *)&ss, len)) die("bind");
	if (listen(fd, backlog)) die("listen");
	printf("{\"ready\":%d}\n", local_port(fd));
	fflush(stdout);
	return fd;
}

static int connect_to(const char *ip, int port) {
	struct sockaddr_storage ss;
	socklen_t len = make_addr(ip, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0) die("socket");
	if (env_int("NODELAY")) {
		int one = 1;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))) die("TCP_NODELAY");
	}
	if (connect(fd, (struct sockaddr *)&ss, len)) die("connect");
	return fd;
}

/* Reads exactly n bytes; returns 0 at EOF before the first byte. */
static int read_full(int fd, char *buf, int n) {
	int got = 0;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) die("read");
		if (r == 0) { if (got == 0) return 0; fprintf(stderr, "short read\n"); exit(1); }
		got += r;
	}
	return 1;
}

static void write_full(int fd, const char *buf, int n) {
	int put = 0;
	while (put < n) {
		ssize_t w = write(fd, buf + put, n - put);
		if (w < 0 && errno == EINTR) continue;
		if (w < 0) die("write");
		put += w;
	}
}

static double now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char buf[1 << 16];

int main(int argc, char **argv) {
	if (argc < 4) { fprintf(stderr, "usage: see the comment at the top of tcp-peer.c\n"); return 2; }
	const char *mode = argv[1], *ip = argv[2];
	int port = atoi(argv[3]);
	memset(buf, 'x', sizeof(buf));

	if (!strcmp(mode, "rr-server") && argc >= 6) {
		int req = atoi(argv[4]), resp = atoi(argv[5]);
		int lfd = listen_on(ip, port, 16);
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) die("accept");
		set_rcvbuf(fd, env_int("ACCEPT_RCVBUF"));
		int n = 0;
		while (read_full(fd, buf, req)) { write_full(fd, buf, resp); n++; }
		printf("{\"pid\":%d,\"lport\":%d,\"exchanges\":%d}\n", getpid(), local_port(lfd), n);
		return 0;
	}
	if (!strcmp(mode, "rr-client") && argc >= 8) {
		int n = atoi(argv[4]), hdr = atoi(argv[5]), body = atoi(argv[6]), resp = atoi(argv[7]);
		int fd = connect_to(ip, port);
		double t0 = now_ms();
		for (int i = 0; i < n; i++) {
			write_full(fd, buf, hdr);
			write_full(fd, buf, body);
			if (!read_full(fd, buf, resp)) { fprintf(stderr, "server closed\n"); return 1; }
		}
		double ms = now_ms() - t0;
		printf("{\"pid\":%d,\"lport\":%d,\"elapsedMs\":%.3f,\"perExchangeMs\":%.3f}\n", getpid(), local_port(fd), ms, ms / n);
		fflush(stdout);
		if (env_int("HOLD_MS"))
			usleep(env_int("HOLD_MS") * 1000);
		return 0;
	}
	if (!strcmp(mode, "sink-server")) {
		int lfd = listen_on(ip, port, 16);
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) die("accept");
		set_rcvbuf(fd, env_int("ACCEPT_RCVBUF"));
		if (argc >= 5)
			usleep(atoi(argv[4]) * 1000); /* a stalled reader: the receive buffer fills, the window closes */
		long total = 0;
		ssize_t r;
		while ((r = read(fd, buf, sizeof(buf))) > 0) total += r;
		printf("{\"pid\":%d,\"lport\":%d,\"received\":%ld}\n", getpid(), local_port(lfd), total);
		return 0;
	}
	if (!strcmp(mode, "bulk-client") && argc >= 5) {
		long bytes = atol(argv[4]), put = 0;
		int fd = connect_to(ip, port);
		while (put < bytes) {
			int chunk = bytes - put > (long)sizeof(buf) ? (int)sizeof(buf) : (int)(bytes - put);
			write_full(fd, buf, chunk);
			put += chunk;
		}
		printf("{\"pid\":%d,\"lport\":%d,\"sent\":%ld}\n", getpid(), local_port(fd), put);
		close(fd);
		return 0;
	}
	if (!strcmp(mode, "listen-only") && argc >= 5) {
		listen_on(ip, port, atoi(argv[4]));
		for (;;) pause();
	}
	if (!strcmp(mode, "flood") && argc >= 6) {
		int count = atoi(argv[4]), wait_ms = atoi(argv[5]);
		struct sockaddr_storage ss;
		socklen_t len = make_addr(ip, port, &ss);
		for (int i = 0; i < count; i++) {
			int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
			if (fd < 0) die("socket");
			if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) die("connect");
		}
		usleep(wait_ms * 1000);
		printf("{\"pid\":%d,\"started\":%d}\n", getpid(), count);
		return 0;
	}
	if (!strcmp(mode, "try-connect")) {
		struct sockaddr_storage ss;
		socklen_t len = make_addr(ip, port, &ss);
		int fd = socket(ss.ss_family, SOCK_STREAM, 0);
		if (fd < 0) die("socket");
		int err = connect(fd, (struct sockaddr *)&ss, len) ? errno : 0;
		printf("{\"pid\":%d,\"lport\":%d,\"errno\":%d}\n", getpid(), local_port(fd), err);
		return 0;
	}
	fprintf(stderr, "bad arguments\n");
	return 2;
}
