/* TCP workload for the TCP benchmarks (bench/tcp-rtt-accuracy.ts, bench/tcp-overhead.ts).
 *
 *   tcp-bench-peer server ADDR PORT
 *       accept connections until killed, one thread each. Each connection starts with requests: a 12-byte
 *       header {u32 total request bytes, u32 response bytes, u32 think time us} then the rest of the
 *       request; the server sleeps the think time, then writes the response in one write. A header with
 *       total 0 turns the connection into a sink: read until EOF, then close.
 *       Prints {"ready":PORT} once listening.
 *   tcp-bench-peer rr ADDR PORT CONNS COUNT DURATION_MS REQ RESP THINK_US JITTER_US
 *       CONNS connections (one thread each, TCP_NODELAY), each doing request/response exchanges until
 *       COUNT exchanges (if > 0) or DURATION_MS (if > 0); the think time asked of the server is
 *       THINK_US + uniform(0..JITTER_US). Prints one JSON line with local ports, exchanges, latency
 *       percentiles (client-side, us) and its CPU time (ms); env HOLD_MS=N keeps the connections open N ms after printing.
 *   tcp-bench-peer bulk ADDR PORT DURATION_MS
 *       one connection: write 64 KiB chunks for DURATION_MS, shut down the write side, wait for the
 *       server's close (all bytes read). Prints bytes, elapsed ms, Mbit/s. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1 << 16)

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

static double now_us(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Reads exactly n bytes; returns 0 at EOF before the first byte, -1 on error / short read. */
static int read_full(int fd, char *buf, size_t n) {
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) return got == 0 && r == 0 ? 0 : -1;
		got += r;
	}
	return 1;
}

static int write_full(int fd, const char *buf, size_t n) {
	size_t put = 0;
	while (put < n) {
		ssize_t w = write(fd, buf + put, n - put);
		if (w < 0 && errno == EINTR) continue;
		if (w < 0) return -1;
		put += w;
	}
	return 0;
}

/* Writes len bytes of filler from a static buffer, in CHUNK pieces (one write when len <= CHUNK). */
static char filler[CHUNK];
static int write_filler(int fd, size_t len) {
	while (len) {
		size_t n = len > CHUNK ? CHUNK : len;
		if (write_full(fd, filler, n)) return -1;
		len -= n;
	}
	return 0;
}

static void *serve_conn(void *arg) {
	int fd = (int)(intptr_t)arg;
	char *buf = malloc(CHUNK);
	uint32_t hdr[3];
	for (;;) {
		if (read_full(fd, (char *)hdr, sizeof(hdr)) <= 0) break;
		if (hdr[0] == 0) { /* sink */
			while (read(fd, buf, CHUNK) > 0) {}
			break;
		}
		size_t rest = hdr[0] > sizeof(hdr) ? hdr[0] - sizeof(hdr) : 0;
		while (rest) {
			size_t n = rest > CHUNK ? CHUNK : rest;
			if (read_full(fd, buf, n) <= 0) goto out;
			rest -= n;
		}
		if (hdr[2]) usleep(hdr[2]);
		if (write_filler(fd, hdr[1])) break;
	}
out:
	free(buf);
	close(fd);
	return NULL;
}

static int connect_to(const char *ip, int port) {
	struct sockaddr_storage ss;
	socklen_t len = make_addr(ip, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0) die("socket");
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, len)) die("connect");
	return fd;
}

struct rr_conn {
	const char *ip;
	int port, fd, lport;
	long count;
	double duration_us;
	uint32_t req, resp, think, jitter;
	float *lat; /* per-exchange latency, us */
	long cap, n;
	int failed;
};

static void *rr_run(void *arg) {
	struct rr_conn *c = arg;
	char *buf = malloc(CHUNK);
	unsigned seed = (unsigned)c->lport * 2654435761u;
	double t0 = now_us();
	while ((c->count <= 0 || c->n < c->count) && (c->duration_us <= 0 || now_us() - t0 < c->duration_us)) {
		uint32_t hdr[3] = { c->req, c->resp, c->think + (c->jitter ? (uint32_t)(rand_r(&seed) % (c->jitter + 1)) : 0) };
		double s = now_us();
		if (write_full(c->fd, (char *)hdr, sizeof(hdr)) || write_filler(c->fd, c->req - sizeof(hdr))) { c->failed = 1; break; }
		size_t rest = c->resp;
		while (rest) {
			size_t n = rest > CHUNK ? CHUNK : rest;
			if (read_full(c->fd, buf, n) <= 0) { c->failed = 1; goto out; }
			rest -= n;
		}
		if (c->n < c->cap) c->lat[c->n] = (float)(now_us() - s);
		c->n++;
	}
out:
	free(buf);
	return NULL;
}

/* This process's user + system CPU time so far, ms (all threads). */
static double cpu_ms(void) {
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int cmp_float(const void *a, const void *b) {
	float x = *(const float *)a, y = *(const float *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
	if (argc < 4) { fprintf(stderr, "usage: see the comment at the top of tcp-bench-peer.c\n"); return 2; }
	const char *mode = argv[1], *ip = argv[2];
	int port = atoi(argv[3]);
	memset(filler, 'x', sizeof(filler));

	if (!strcmp(mode, "server")) {
		struct sockaddr_storage ss;
		socklen_t len = make_addr(ip, port, &ss);
		int lfd = socket(ss.ss_family, SOCK_STREAM, 0);
		if (lfd < 0) die("socket");
		int one = 1;
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(lfd, (struct sockaddr *)&ss, len)) die("bind");
		if (listen(lfd, 128)) die("listen");
		printf("{\"ready\":%d}\n", local_port(lfd));
		fflush(stdout);
		for (;;) {
			int fd = accept(lfd, NULL, NULL);
			if (fd < 0) { if (errno == EINTR) continue; die("accept"); }
			pthread_t t;
			if (pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd)) die("pthread_create");
			pthread_detach(t);
		}
	}
	if (!strcmp(mode, "rr") && argc >= 11) {
		int conns = atoi(argv[4]);
		long count = atol(argv[5]);
		double dur = atof(argv[6]) * 1000;
		uint32_t req = atoi(argv[7]), resp = atoi(argv[8]), think = atoi(argv[9]), jitter = atoi(argv[10]);
		if (conns < 1 || req < 12 || (count <= 0 && dur <= 0)) { fprintf(stderr, "rr: bad arguments\n"); return 2; }
		struct rr_conn *c = calloc(conns, sizeof(*c));
		pthread_t *t = calloc(conns, sizeof(*t));
		long cap = count > 0 ? count : 2000000 / conns;
		for (int i = 0; i < conns; i++) {
			c[i] = (struct rr_conn){ .ip = ip, .port = port, .count = count, .duration_us = dur, .req = req, .resp = resp,
				.think = think, .jitter = jitter, .cap = cap };
			c[i].lat = malloc(cap * sizeof(float));
			c[i].fd = connect_to(ip, port);
			c[i].lport = local_port(c[i].fd);
		}
		double t0 = now_us();
		for (int i = 0; i < conns; i++) pthread_create(&t[i], NULL, rr_run, &c[i]);
		for (int i = 0; i < conns; i++) pthread_join(t[i], NULL);
		double elapsed = now_us() - t0;
		long total = 0, kept = 0, failed = 0;
		for (int i = 0; i < conns; i++) { total += c[i].n; kept += c[i].n < cap ? c[i].n : cap; failed += c[i].failed; }
		float *all = malloc((kept ? kept : 1) * sizeof(float));
		long k = 0;
		for (int i = 0; i < conns; i++)
			for (long j = 0; j < c[i].n && j < cap; j++) all[k++] = c[i].lat[j];
		qsort(all, kept, sizeof(float), cmp_float);
#define PCT(p) (kept ? all[(long)((kept - 1) * (p))] : 0)
		printf("{\"pid\":%d,\"lports\":[", getpid());
		for (int i = 0; i < conns; i++) printf("%s%d", i ? "," : "", c[i].lport);
		printf("],\"exchanges\":%ld,\"failed\":%ld,\"elapsedMs\":%.3f,\"perSec\":%.1f,\"p50Us\":%.1f,\"p90Us\":%.1f,\"p99Us\":%.1f,\"cpuMs\":%.1f}\n",
			total, failed, elapsed / 1e3, total / (elapsed / 1e6), PCT(0.5), PCT(0.9), PCT(0.99), cpu_ms());
		fflush(stdout);
		const char *hold = getenv("HOLD_MS");
		if (hold) usleep(atoi(hold) * 1000);
		return failed ? 1 : 0;
	}
	if (!strcmp(mode, "bulk") && argc >= 5) {
		double dur = atof(argv[4]) * 1000;
		int fd = connect_to(ip, port);
		uint32_t hdr[3] = { 0, 0, 0 };
		if (write_full(fd, (char *)hdr, sizeof(hdr))) die("write");
		long bytes = 0;
		double t0 = now_us();
		while (now_us() - t0 < dur) {
			if (write_full(fd, filler, CHUNK)) die("write");
			bytes += CHUNK;
		}
		shutdown(fd, SHUT_WR);
		char b[64];
		while (read(fd, b, sizeof(b)) > 0) {} /* the server closes once it has read everything */
		double elapsed = now_us() - t0;
		printf("{\"pid\":%d,\"lport\":%d,\"bytes\":%ld,\"elapsedMs\":%.3f,\"mbitPerSec\":%.1f,\"cpuMs\":%.1f}\n", getpid(), local_port(fd), bytes,
			elapsed / 1e3, bytes * 8 / elapsed, cpu_ms());
		return 0;
	}
	fprintf(stderr, "bad arguments\n");
	return 2;
}
