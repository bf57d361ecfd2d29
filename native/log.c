/* Captures what libbpf prints so errors can carry it (verifier log, failing program, cause).
 * FAULTLENS_LIBBPF_DEBUG=1 also echoes everything (debug level included) to stderr. */
#include "fl.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_CAP (8u << 20) /* verifier logs can be megabytes; keep the tail beyond this */

static char *g_buf;
static size_t g_len, g_cap;
static bool g_echo;

static void append(const char *s, size_t n)
{
	if (n >= LOG_CAP)
		return;
	if (g_len + n + 1 > LOG_CAP) { /* keep the newest half */
		size_t keep = LOG_CAP / 2;
		memmove(g_buf, g_buf + g_len - keep, keep);
		g_len = keep;
	}
	if (g_len + n + 1 > g_cap) {
		size_t cap = g_cap ? g_cap : 16384;
		while (cap < g_len + n + 1)
			cap *= 2;
		char *nb = realloc(g_buf, cap);
		if (!nb)
			return;
		g_buf = nb;
		g_cap = cap;
	}
	memcpy(g_buf + g_len, s, n);
	g_len += n;
	g_buf[g_len] = 0;
}

static int print_cb(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char small[1024];
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n < 0) {
		va_end(ap2);
		return 0;
	}
	char *text = small;
	if ((size_t)n >= sizeof(small)) {
		text = malloc((size_t)n + 1);
		if (!text) {
			va_end(ap2);
			return 0;
		}
		vsnprintf(text, (size_t)n + 1, fmt, ap2);
	}
	va_end(ap2);
	if (g_echo)
		fputs(text, stderr);
	if (level != LIBBPF_DEBUG)
		append(text, (size_t)n);
	if (text != small)
		free(text);
	return 0;
}

void fl_log_install(void)
{
	const char *e = getenv("FAULTLENS_LIBBPF_DEBUG");
	g_echo = e && *e && strcmp(e, "0") != 0;
	libbpf_set_print(print_cb);
}

void fl_log_reset(void)
{
	g_len = 0;
	if (g_buf)
		g_buf[0] = 0;
}

const char *fl_log_text(void) { return g_buf ? g_buf : ""; }

bool fl_log_verifier(char **log, char *prog, size_t prog_len)
{
	const char *text = fl_log_text();
	const char *begin_mark = "-- BEGIN PROG LOAD LOG --\n", *end_mark = "-- END PROG LOAD LOG --";
	const char *begin = NULL, *p = text;
	*log = NULL;
	if (prog_len)
		prog[0] = 0;
	while ((p = strstr(p, begin_mark))) { /* the last one is the failing program */
		begin = p;
		p += strlen(begin_mark);
	}
	/* "libbpf: prog 'NAME': failed to load" names the program even when no log was produced */
	const char *f = NULL, *q = text;
	while ((q = strstr(q, "prog '"))) {
		const char *close = strchr(q + 6, '\'');
		if (close && strncmp(close, "': failed to load", 17) == 0)
			f = q;
		q += 6;
	}
	if (!f && begin) { /* name on the BEGIN line */
		const char *line = begin;
		while (line > text && line[-1] != '\n')
			line--;
		f = strstr(line, "prog '");
		if (f && f > begin)
			f = NULL;
	}
	if (f && prog_len) {
		const char *s = f + 6, *e = strchr(s, '\'');
		size_t n = e ? (size_t)(e - s) : 0;
		if (n >= prog_len)
			n = prog_len - 1;
		memcpy(prog, s, n);
		prog[n] = 0;
	}
	if (begin) {
		const char *s = begin + strlen(begin_mark);
		const char *e = strstr(s, end_mark);
		size_t n = e ? (size_t)(e - s) : strlen(s);
		*log = malloc(n + 1);
		if (*log) {
			memcpy(*log, s, n);
			(*log)[n] = 0;
		}
	}
	return begin != NULL || (prog_len && prog[0]);
}

void fl_log_last_warning(char *buf, size_t len)
{
	const char *text = fl_log_text();
	const char *last = NULL, *p = text;
	buf[0] = 0;
	while ((p = strstr(p, "libbpf: "))) {
		last = p;
		p += 8;
	}
	if (!last)
		return;
	last += 8;
	const char *e = strchr(last, '\n');
	size_t n = e ? (size_t)(e - last) : strlen(last);
	if (n >= len)
		n = len - 1;
	memcpy(buf, last, n);
	buf[n] = 0;
}
