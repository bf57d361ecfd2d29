/* Socket-record generator for bench/ring-drain.ts: a connected UDP pair on loopback, send + recv in a
 * tight loop for N seconds (two traced socket syscalls per iteration, payload of varied length).
 * Prints the number of iterations and its own CPU seconds (user+sys). Usage: udp-gen SECONDS */
#include <arpa/inet.h>
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

int main(int argc, char **argv) {
	double secs = argc > 1 ? atof(argv[1]) : 5;
	int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	if (rx < 0 || tx < 0 || bind(rx, (struct sockaddr *)&a, sizeof(a)) || getsockname(rx, (struct sockaddr *)&a, &len) ||
	    connect(tx, (struct sockaddr *)&a, sizeof(a))) {
		perror("udp-gen");
		return 1;
	}
	char buf[1024];
	memset(buf, 'x', sizeof(buf));
	unsigned long n = 0;
	double end = now() + secs;
	while (1) {
		for (int i = 0; i < 256; i++, n++) {
			size_t sz = 32 + (n * 37) % 700; /* 32..731 bytes: heads below and above the 512 B cap */
			if (send(tx, buf, sz, 0) < 0 || recv(rx, buf, sizeof(buf), 0) < 0) {
				perror("udp-gen");
				return 1;
			}
		}
		if (now() >= end)
			break;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("%lu %.6f\n", n, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	return 0;
}
