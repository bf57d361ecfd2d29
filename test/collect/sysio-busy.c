/* Burns CPU for argv[1] ms of wall time, then prints its pid, the wall time it measured (ns) and the kernel's own
 * account of it (/proc/self/schedstat: ns on CPU, ns waiting in a run queue, timeslices). For sysio tests. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long long ms = argc > 1 ? atoll(argv[1]) : 500, start = now_ns(), end = start + ms * 1000000LL, t;
	volatile unsigned long x = 0;
	while ((t = now_ns()) < end)
		for (int i = 0; i < 1000; i++)
			x += i;
	char stat[128] = "";
	FILE *f = fopen("/proc/self/schedstat", "r");
	if (f) {
		if (!fgets(stat, sizeof stat, f))
			stat[0] = 0;
		fclose(f);
	}
	printf("%d %lld %s", (int)getpid(), t - start, stat);
	return 0;
}
