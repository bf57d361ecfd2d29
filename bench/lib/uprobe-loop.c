// Workload of bench/uprobe-overhead.ts: calls charge() N times per batch, BATCHES times, and prints each
// batch's wall and thread-CPU ns per call (CPU time leaves out the time other tenants of this machine hold
// the CPU; the uprobe handler runs in this thread's context, so it is included). charge() has the signature
// of the demo service's business function (2 strings + a long) and is kept out of line (noipa) so every
// iteration is one real call the uprobe can trap.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

__attribute__((noipa, used)) int charge(const char *user, long amount, const char *cur) { (void)user; (void)cur; return amount > 5000; }

static long long now_ns(clockid_t clock) {
	struct timespec t;
	clock_gettime(clock, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
	if (argc < 3) { fprintf(stderr, "usage: %s CALLS BATCHES\n", argv[0]); return 2; }
	long n = atol(argv[1]), batches = atol(argv[2]);
	if (n <= 0 || batches <= 0) { fprintf(stderr, "CALLS and BATCHES must be positive\n"); return 2; }
	int s = 0;
	for (long b = 0; b < batches; b++) {
		long long w0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
		for (long i = 0; i < n; i++) s += charge("user-42", i, "EUR");
		long long c1 = now_ns(CLOCK_THREAD_CPUTIME_ID), w1 = now_ns(CLOCK_MONOTONIC);
		printf("%.1f %.1f\n", (double)(w1 - w0) / n, (double)(c1 - c0) / n);
	}
	return s == -1; // uses s so the loop is not optimised away
}
