/* Business-probe test target: waits for a line on stdin (probes attached), then makes a known series of
 * calls to exported, non-inlined functions and exits. Built by test/collect/business-probe.test.ts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* noipa: without it GCC sees record_order reads only o->items and drops the stores to the meta struct */
#define API __attribute__((noipa, used, visibility("default")))

struct meta {
	int version;
	const char *region;
};

struct order {
	const char *user;     /* 0 */
	long amount_cents;    /* 8 */
	int items;            /* 16 */
	char sku[12];         /* 20 */
	struct meta *meta;    /* 32 */
	double weight_kg;     /* 40 */
};

int API charge(const char *user, long amount_cents, const char *currency)
{
	__asm__ volatile("" ::: "memory");
	return amount_cents > 5000 ? 1 : 0;
}

int API record_order(const struct order *o)
{
	__asm__ volatile("" ::: "memory");
	return o->items * 10;
}

long API eight(long a, long b, long c, long d, long e, long f, long g, long h)
{
	__asm__ volatile("" ::: "memory");
	return a + b + c + d + e + f + g + h;
}

int API maybe(const char *p)
{
	__asm__ volatile("" ::: "memory");
	return p ? 1 : 0;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 5;
	char line[16];
	if (!fgets(line, sizeof line, stdin))
		return 1;
	const char *currencies[] = { "EUR", "USD", "GBP" };
	char user[32];
	for (int i = 0; i < n; i++) {
		snprintf(user, sizeof user, "user-%d", i);
		charge(user, 1000L * (i + 1) + i, currencies[i % 3]);
	}
	struct meta m = { .version = 7, .region = "eu-west" };
	struct order o = { .user = "alice", .amount_cents = 4242, .items = 3, .meta = &m, .weight_kg = 2.5 };
	strcpy(o.sku, "SKU-123");
	record_order(&o);
	eight(1, 2, 3, 4, 5, 6, 70, 80);
	maybe(NULL);
	maybe("x");
	printf("done\n");
	fflush(stdout);
	return 0;
}
