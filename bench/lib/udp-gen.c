/* Syscall generator for bench/ring-drain.ts. Workloads (argv[2]):
 *   udp (default): a connected UDP pair on loopback, send + recv (two traced socket syscalls per iteration,
 *                  payload of varied length);
 *   tcp:           the same over a loopback TCP connection;
 *   file:          read 512 B from /dev/zero + write them to /dev/null (read/write on non-socket fds: the
 *                  probe must look at them and drop them);
 *   getppid:       two getppid() calls (a syscall the probe does not trace at all).
 * Runs for SECONDS and prints the number of iterations, its own CPU seconds (user+sys), and the 10th percentile
 * of its thread CPU ns per iteration over batches of 256 iterations (other tenants of a loaded machine only
 * ever add to a batch's time, through cache and TLB pollution: the low percentile filters most of that).
 * Usage: udp-gen SECONDS [udp|tcp|file|getppid] */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double thread_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int fail(const char *what) {
	perror(what);
	return 1;
}

int main(int argc, char **argv) {
	double secs = argc > 1 ? atof(argv[1]) : 5;
	const char *mode = argc > 2 ? argv[2] : "udp";
	int tx = -1, rx = -1;
	if (!strcmp(mode, "udp") || !strcmp(mode, "tcp")) {
		int tcp = !strcmp(mode, "tcp");
		int type = tcp ? SOCK_STREAM : SOCK_DGRAM;
		int l = socket(AF_INET, type, 0);
		tx = socket(AF_INET, type, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t len = sizeof(a);
		if (l < 0 || tx < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || getsockname(l, (struct sockaddr *)&a, &len) ||
		    (tcp && listen(l, 1)) || connect(tx, (struct sockaddr *)&a, sizeof(a)))
			return fail("udp-gen socket setup");
		rx = tcp ? accept(l, NULL, NULL) : l;
		if (rx < 0)
			return fail("udp-gen accept");
	} else if (!strcmp(mode, "file")) {
		rx = open("/dev/zero", O_RDONLY);
		tx = open("/dev/null", O_WRONLY);
		if (rx < 0 || tx < 0)
			return fail("udp-gen open");
	} else if (strcmp(mode, "getppid")) {
		fprintf(stderr, "udp-gen: unknown workload '%s'\n", mode);
		return 2;
	}
	int sock = tx >= 0 && strcmp(mode, "file");
	char buf[1024];
	memset(buf, 'x', sizeof(buf));
	unsigned long n = 0;
	double end = now() + secs;
	size_t nb = 0, cap = 4096;
	double *batch = malloc(cap * sizeof(double));
	while (1) {
		double t0 = thread_ns();
		for (int i = 0; i < 256; i++, n++) {
			size_t sz = 32 + (n * 37) % 700; /* 32..731 bytes: heads below and above the 512 B cap */
			if (sock) {
				/* TCP: exactly sz bytes are in flight, so one recv of sz returns them all on loopback */
				if (send(tx, buf, sz, 0) < 0 || recv(rx, buf, sz, MSG_WAITALL) < 0)
					return fail("udp-gen");
			} else if (tx >= 0) {
				if (read(rx, buf, 512) < 0 || write(tx, buf, 512) < 0)
					return fail("udp-gen");
			} else {
				getppid();
				getppid();
			}
		}
		if (nb == cap)
			batch = realloc(batch, (cap *= 2) * sizeof(double));
		if (!batch)
			return fail("udp-gen");
		batch[nb++] = (thread_ns() - t0) / 256;
		if (now() >= end)
			break;
	}
	qsort(batch, nb, sizeof(double), cmp_double);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("%lu %.6f %.1f\n", n, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
	       batch[nb / 10]);
	return 0;
}
