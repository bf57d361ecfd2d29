/*
 * payment: the shop's native payment service (HTTP/1.1, keep-alive, one thread per connection).
 *
 * Its business functions are real, exported, non-inlined symbols so faultlens can attach uprobes:
 *   int charge(const char *user, long amount_cents, const char *currency)   0 = ok, 1 = declined, 2 = processor error
 *   int record_order(const struct order *o)                                 struct-deref probes, layout below
 *   int refund(const char *user, long amount_cents)
 * Built by the demo with: gcc -O1 -fno-inline -g -pthread (see demo/payment/build.ts).
 *
 * struct order layout on x86-64 (offsets for probe specs):
 *   0  const char *user
 *   8  long        amount_cents
 *   16 int         items
 *   24 const char *currency
 *
 * Endpoints (port $PAYMENT_PORT, default 8084):
 *   POST /charge        {"user":"u1","amount_cents":1234,"currency":"EUR","items":2}
 *   POST /refund        {"user":"u1","amount_cents":1234}
 *   GET  /health, GET /stats
 *   POST /admin/flags?fail_rate=0.5&accept_delay_ms=300&close=1&rcvbuf_bug=1   (scenario knobs; 0 turns off)
 * Settlement uploads (port $SETTLE_PORT, default 8085): POST /settlements with any body; answers its size.
 * With rcvbuf_bug=1 the settlement listener is re-created with a tiny SO_RCVBUF before listen() (so the
 * handshake picks window scale 0) and each accepted socket then sets a 4 MB SO_RCVBUF, which cannot help.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct order {
	const char *user;
	long amount_cents;
	int items;
	const char *currency;
};

#define API __attribute__((noinline, used, visibility("default")))

static atomic_long n_charges, n_charge_failures, n_declined, n_orders, n_refunds, total_cents, n_settlements, settle_bytes;
static atomic_long n_requests, n_connections;
static atomic_int fail_rate_permille, accept_delay_ms, close_after_response, rcvbuf_bug;
static atomic_int settle_generation; /* bumped when rcvbuf_bug changes: the settlement listener re-creates itself */

static unsigned long xorshift(void)
{
	static __thread unsigned long s;
	if (!s)
		s = (unsigned long)time(NULL) ^ (unsigned long)pthread_self();
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

/* A little real work per charge (a toy fraud score) so the function has a measurable duration. */
long API fraud_score(const char *user, long amount_cents)
{
	unsigned long h = 1469598103934665603UL;
	for (const char *p = user; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211UL;
	for (int i = 0; i < 2000; i++)
		h = (h ^ (unsigned long)amount_cents) * 1099511628211UL;
	return (long)(h % 100);
}

int API charge(const char *user, long amount_cents, const char *currency)
{
	atomic_fetch_add(&n_charges, 1);
	if (!user || !*user || amount_cents <= 0 || !currency || strlen(currency) != 3) {
		atomic_fetch_add(&n_declined, 1);
		return 1;
	}
	int fr = atomic_load(&fail_rate_permille);
	if (fr > 0 && (int)(xorshift() % 1000) < fr) {
		atomic_fetch_add(&n_charge_failures, 1);
		return 2;
	}
	if (fraud_score(user, amount_cents) > 98) {
		atomic_fetch_add(&n_declined, 1);
		return 1;
	}
	atomic_fetch_add(&total_cents, amount_cents);
	return 0;
}

int API record_order(const struct order *o)
{
	if (!o || !o->user || o->items <= 0)
		return -1;
	atomic_fetch_add(&n_orders, 1);
	return (int)atomic_load(&n_orders);
}

int API refund(const char *user, long amount_cents)
{
	if (!user || amount_cents <= 0)
		return 1;
	atomic_fetch_add(&n_refunds, 1);
	atomic_fetch_sub(&total_cents, amount_cents);
	return 0;
}

/* ---- minimal JSON field extraction (flat objects from our own services) ---- */

static const char *json_find(const char *body, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\"", key);
	const char *p = strstr(body, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	while (*p == ' ' || *p == ':')
		p++;
	return p;
}

static void json_str(const char *body, const char *key, char *out, size_t n)
{
	out[0] = 0;
	const char *p = json_find(body, key);
	if (!p || *p != '"')
		return;
	p++;
	size_t i = 0;
	while (*p && *p != '"' && i + 1 < n)
		out[i++] = *p++;
	out[i] = 0;
}

static long json_long(const char *body, const char *key, long dflt)
{
	const char *p = json_find(body, key);
	return p ? strtol(p, NULL, 10) : dflt;
}

/* ---- HTTP ---- */

struct conn {
	int fd;
	int settlement;
};

static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int respond(int fd, int status, const char *body, int keep)
{
	/* Head and body leave in one send(): two small writes would meet Nagle x delayed ACK (a 40 ms stall). */
	char head[1024];
	const char *reason = status == 200 ? "OK" : status == 402 ? "Payment Required" : status == 404 ? "Not Found" : status == 400 ? "Bad Request" : "Bad Gateway";
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: %s\r\n\r\n", status,
			 reason, strlen(body), keep ? "keep-alive" : "close");
	size_t blen = strlen(body);
	if ((size_t)n + blen < sizeof head) {
		memcpy(head + n, body, blen);
		return send_all(fd, head, (size_t)n + blen);
	}
	if (send_all(fd, head, (size_t)n) < 0)
		return -1;
	return send_all(fd, body, blen);
}

static int query_int(const char *query, const char *key, int dflt)
{
	if (!query)
		return dflt;
	char pat[64];
	snprintf(pat, sizeof pat, "%s=", key);
	for (const char *p = query; (p = strstr(p, pat)); p++) {
		if (p == query || p[-1] == '&' || p[-1] == '?')
			return (int)(strtod(p + strlen(pat), NULL) * (strcmp(key, "fail_rate") == 0 ? 1000 : 1));
	}
	return dflt;
}

static void handle(int fd, const char *method, char *path, const char *body, int keep)
{
	char out[512], user[64], currency[8];
	char *query = strchr(path, '?');
	if (query)
		*query++ = 0;
	atomic_fetch_add(&n_requests, 1);
	if (strcmp(path, "/health") == 0) {
		respond(fd, 200, "{\"ok\":true}", keep);
	} else if (strcmp(path, "/stats") == 0) {
		snprintf(out, sizeof out,
			 "{\"charges\":%ld,\"charge_failures\":%ld,\"declined\":%ld,\"orders_recorded\":%ld,\"refunds\":%ld,"
			 "\"total_cents\":%ld,\"settlements\":%ld,\"settlement_bytes\":%ld,\"requests\":%ld,\"connections\":%ld,"
			 "\"fail_rate\":%.3f,\"accept_delay_ms\":%d,\"close\":%d,\"rcvbuf_bug\":%d}",
			 atomic_load(&n_charges), atomic_load(&n_charge_failures), atomic_load(&n_declined), atomic_load(&n_orders),
			 atomic_load(&n_refunds), atomic_load(&total_cents), atomic_load(&n_settlements), atomic_load(&settle_bytes),
			 atomic_load(&n_requests), atomic_load(&n_connections), atomic_load(&fail_rate_permille) / 1000.0,
			 atomic_load(&accept_delay_ms), atomic_load(&close_after_response), atomic_load(&rcvbuf_bug));
		respond(fd, 200, out, keep);
	} else if (strcmp(method, "POST") == 0 && strcmp(path, "/charge") == 0) {
		json_str(body, "user", user, sizeof user);
		json_str(body, "currency", currency, sizeof currency);
		long amount = json_long(body, "amount_cents", 0);
		int rc = charge(user, amount, currency);
		if (rc == 0) {
			struct order o = { .user = user, .amount_cents = amount, .items = (int)json_long(body, "items", 1), .currency = currency };
			int id = record_order(&o);
			snprintf(out, sizeof out, "{\"status\":\"ok\",\"txn\":%d}", id);
			respond(fd, 200, out, keep);
		} else {
			snprintf(out, sizeof out, "{\"status\":\"%s\",\"code\":%d}", rc == 1 ? "declined" : "error", rc);
			respond(fd, rc == 1 ? 402 : 502, out, keep);
		}
	} else if (strcmp(method, "POST") == 0 && strcmp(path, "/refund") == 0) {
		json_str(body, "user", user, sizeof user);
		int rc = refund(user, json_long(body, "amount_cents", 0));
		respond(fd, rc == 0 ? 200 : 400, rc == 0 ? "{\"status\":\"ok\"}" : "{\"status\":\"bad\"}", keep);
	} else if (strcmp(method, "POST") == 0 && strcmp(path, "/admin/flags") == 0) {
		atomic_store(&fail_rate_permille, query_int(query, "fail_rate", atomic_load(&fail_rate_permille)));
		atomic_store(&accept_delay_ms, query_int(query, "accept_delay_ms", atomic_load(&accept_delay_ms)));
		atomic_store(&close_after_response, query_int(query, "close", atomic_load(&close_after_response)));
		int bug = query_int(query, "rcvbuf_bug", atomic_load(&rcvbuf_bug));
		if (bug != atomic_load(&rcvbuf_bug)) {
			atomic_store(&rcvbuf_bug, bug);
			atomic_fetch_add(&settle_generation, 1);
		}
		respond(fd, 200, "{\"ok\":true}", keep);
	} else {
		respond(fd, 404, "{\"error\":\"not found\"}", keep);
	}
}

/* Reads requests off one connection until the peer closes (keep-alive) or we decide to close. */
static void *serve(void *arg)
{
	struct conn c = *(struct conn *)arg;
	free(arg);
	atomic_fetch_add(&n_connections, 1);
	size_t cap = 16384, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		char *end;
		while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
			if (len + 1 >= cap) {
				cap *= 2;
				buf = realloc(buf, cap);
			}
			ssize_t n = recv(c.fd, buf + len, cap - len - 1, 0);
			if (n <= 0)
				goto done;
			len += (size_t)n;
		}
		size_t head_len = (size_t)(end - buf) + 4;
		buf[head_len - 2] = 0;
		char method[8] = "", path[256] = "";
		sscanf(buf, "%7s %255s", method, path);
		long clen = 0;
		int keep = 1;
		for (char *h = strstr(buf, "\r\n"); h && *h; h = strstr(h + 2, "\r\n")) {
			if (strncasecmp(h + 2, "Content-Length:", 15) == 0)
				clen = strtol(h + 17, NULL, 10);
			else if (strncasecmp(h + 2, "Connection:", 11) == 0 && strcasestr(h + 13, "close") == h + 13 + strspn(h + 13, " "))
				keep = 0;
		}
		if (atomic_load(&close_after_response))
			keep = 0;
		if (clen < 0)
			goto done;
		/* Settlement uploads stream through a fixed buffer; API bodies are kept whole (small). */
		size_t have = len - head_len;
		if (c.settlement) {
			long left = clen - (long)have;
			char sink[65536];
			while (left > 0) {
				ssize_t n = recv(c.fd, sink, sizeof sink, 0);
				if (n <= 0)
					goto done;
				left -= n;
			}
			atomic_fetch_add(&n_settlements, 1);
			atomic_fetch_add(&settle_bytes, clen);
			char out[96];
			snprintf(out, sizeof out, "{\"bytes\":%ld}", clen);
			if (respond(c.fd, 200, out, keep) < 0)
				goto done;
			len = 0;
		} else {
			if (head_len + (size_t)clen + 1 > cap) {
				cap = head_len + (size_t)clen + 1;
				buf = realloc(buf, cap);
			}
			while (have < (size_t)clen) {
				ssize_t n = recv(c.fd, buf + head_len + have, (size_t)clen - have, 0);
				if (n <= 0)
					goto done;
				have += (size_t)n;
			}
			buf[head_len + clen] = 0;
			handle(c.fd, method, path, buf + head_len, keep);
			size_t used = head_len + (size_t)clen;
			memmove(buf, buf + used, len > used ? len - used : 0);
			len = len > used ? len - used : 0;
		}
		if (!keep)
			break;
	}
done:
	free(buf);
	close(c.fd);
	return NULL;
}

static int listen_on(int port, int backlog, int rcvbuf)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	int one = 1, zero = 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	if (rcvbuf > 0) /* before listen(): the handshake's window scale is derived from it */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons((unsigned short)port), .sin6_addr = in6addr_any };
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, backlog) < 0) {
		fprintf(stderr, "payment: cannot listen on port %d: %s\n", port, strerror(errno));
		exit(1);
	}
	return fd;
}

static void spawn_conn(int fd, int settlement)
{
	struct conn *c = malloc(sizeof *c);
	c->fd = fd;
	c->settlement = settlement;
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (pthread_create(&t, &attr, serve, c) != 0) {
		close(fd);
		free(c);
	}
	pthread_attr_destroy(&attr);
}

static int settle_port;

static void *settlement_loop(void *arg)
{
	(void)arg;
	for (;;) {
		int gen = atomic_load(&settle_generation);
		int bug = atomic_load(&rcvbuf_bug);
		int lfd = listen_on(settle_port, 64, bug ? 4096 : 0);
		for (;;) {
			struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
			setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv); /* lets us notice a generation change */
			int fd = accept(lfd, NULL, NULL);
			if (atomic_load(&settle_generation) != gen) {
				if (fd >= 0)
					close(fd);
				break;
			}
			if (fd < 0)
				continue;
			if (bug) { /* the bug: a big buffer after accept cannot undo the window scale fixed at SYN time */
				int big = 4 << 20;
				setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
			}
			spawn_conn(fd, 1);
		}
		close(lfd);
	}
	return NULL;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	int port = getenv("PAYMENT_PORT") ? atoi(getenv("PAYMENT_PORT")) : 8084;
	settle_port = getenv("SETTLE_PORT") ? atoi(getenv("SETTLE_PORT")) : 8085;
	int backlog = getenv("PAYMENT_BACKLOG") ? atoi(getenv("PAYMENT_BACKLOG")) : 16;
	int lfd = listen_on(port, backlog, 0);
	pthread_t st;
	pthread_create(&st, NULL, settlement_loop, NULL);
	printf("payment listening on :%d (backlog %d), settlements on :%d\n", port, backlog, settle_port);
	for (;;) {
		int d = atomic_load(&accept_delay_ms);
		if (d > 0) /* the listen-queue scenario: a slow acceptor lets the accept queue fill */
			usleep((useconds_t)d * 1000);
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		spawn_conn(fd, 0);
	}
}
