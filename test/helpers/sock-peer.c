/* Test peer for the socket-capture tests: moves an exact number of bytes with one chosen syscall family,
 * so that a test can compare what the kernel probe saw with what was really sent.
 *
 *   sock-peer server tcp|udp ADDR PORT MODE NBYTES RBYTES [accept|accept4]
 *       binds ADDR:PORT, (tcp: accepts one connection), receives NBYTES, replies RBYTES, closes.
 *   sock-peer client tcp|udp ADDR PORT MODE NBYTES RBYTES
 *       connects (udp: only in mode write), sends NBYTES, receives RBYTES, closes.
 *       env PEER_BIND=IP binds the client to IP first (an unconnected UDP socket has no source address).
 *   sock-peer fileio PATH          file + pipe I/O only (must produce no socket records)
 *   sock-peer refused ADDR PORT    one blocking TCP connect that is expected to fail
 *   sock-peer flood tcp ADDR PORT COUNT   COUNT 1-byte writes (ring-buffer overload); server: mode read
 *
 * MODE: write (write/read), writev (writev/readv), sendto (send(to)/recv(from)), sendmsg (sendmsg/recvmsg),
 *       sendmmsg (sendmmsg/recvmmsg), sendfile (client sendfile from a file, server read),
 *       splice (through a pipe: splice pipe -> socket / socket -> pipe).
 * Prints one JSON line on stdout when done: {"pid":..,"lport":..,"rport":..,"sent":..,"received":..}
 * (the server prints {"ready":PORT} first, once it is listening/bound). Exit code 0 = all bytes moved. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define CHUNK 1000 /* max bytes per syscall / datagram */

static void die(const char *what)
{
	fprintf(stderr, "sock-peer: %s: %s\n", what, strerror(errno));
	exit(2);
}

static socklen_t make_addr(const char *ip, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		return sizeof(*in);
	}
	if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		return sizeof(*in6);
	}
	fprintf(stderr, "sock-peer: bad address %s\n", ip);
	exit(2);
}

static int port_of(struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET ? ((struct sockaddr_in *)ss)->sin_port : ((struct sockaddr_in6 *)ss)->sin6_port);
}

/* UDP peer to answer (learnt from the first datagram) */
static struct sockaddr_storage peer;
static socklen_t peer_len;
static int is_udp, is_server;

static char data[CHUNK * 4];

/* Sends n bytes (<= CHUNK) with the mode's call; returns bytes sent. */
static ssize_t send_some(int fd, const char *mode, size_t n, struct sockaddr_storage *to, socklen_t to_len)
{
	const struct sockaddr *dst = to_len ? (const struct sockaddr *)to : NULL;
	if (!strcmp(mode, "write"))
		return write(fd, data, n);
	if (!strcmp(mode, "writev")) {
		struct iovec iov[2] = { { data, n / 2 }, { data + n / 2, n - n / 2 } };
		return writev(fd, iov, 2);
	}
	if (!strcmp(mode, "sendto"))
		return dst ? sendto(fd, data, n, 0, dst, to_len) : send(fd, data, n, 0);
	if (!strcmp(mode, "sendmsg")) {
		struct iovec iov[2] = { { data, n / 2 }, { data + n / 2, n - n / 2 } };
		struct msghdr m = { .msg_name = (void *)dst, .msg_namelen = to_len, .msg_iov = iov, .msg_iovlen = 2 };
		return sendmsg(fd, &m, 0);
	}
	if (!strcmp(mode, "sendmmsg")) {
		/* two messages of half the bytes each: the probe must add both */
		struct iovec iov[2] = { { data, n / 2 }, { data + n / 2, n - n / 2 } };
		struct mmsghdr mm[2] = {};
		for (int i = 0; i < 2; i++) {
			mm[i].msg_hdr.msg_name = (void *)dst;
			mm[i].msg_hdr.msg_namelen = to_len;
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		int k = sendmmsg(fd, mm, n / 2 ? 2 : 1, 0);
		if (k < 0)
			return -1;
		ssize_t total = 0;
		for (int i = 0; i < k; i++)
			total += mm[i].msg_len;
		return total;
	}
	if (!strcmp(mode, "splice")) {
		/* the bytes go through a pipe: write them in, splice them out into the socket */
		static int p[2] = { -1, -1 };
		if (p[0] < 0 && pipe(p))
			die("pipe");
		if (write(p[1], data, n) != (ssize_t)n)
			die("write pipe");
		size_t moved = 0;
		while (moved < n) {
			ssize_t r = splice(p[0], NULL, fd, NULL, n - moved, 0);
			if (r <= 0)
				return r;
			moved += r;
		}
		return moved;
	}
	fprintf(stderr, "sock-peer: unknown mode %s\n", mode);
	exit(2);
}

/* Receives up to n bytes with the mode's call; remembers the UDP peer. */
static ssize_t recv_some(int fd, const char *mode, size_t n)
{
	static char buf[CHUNK * 4];
	peer_len = sizeof(peer);
	if (!strcmp(mode, "write") || !strcmp(mode, "sendfile")) {
		if (is_udp && is_server) /* an unbound UDP server must learn its peer */
			return recvfrom(fd, buf, n, 0, (struct sockaddr *)&peer, &peer_len);
		return read(fd, buf, n);
	}
	if (!strcmp(mode, "writev")) {
		struct iovec iov[2] = { { buf, n / 2 }, { buf + n / 2, n - n / 2 } };
		return readv(fd, iov, 2);
	}
	if (!strcmp(mode, "sendto"))
		return is_udp ? recvfrom(fd, buf, n, 0, (struct sockaddr *)&peer, &peer_len) : recv(fd, buf, n, 0);
	if (!strcmp(mode, "sendmsg")) {
		struct iovec iov[2] = { { buf, n / 2 }, { buf + n / 2, n - n / 2 } };
		struct msghdr m = { .msg_name = &peer, .msg_namelen = sizeof(peer), .msg_iov = iov, .msg_iovlen = 2 };
		ssize_t r = recvmsg(fd, &m, 0);
		peer_len = m.msg_namelen;
		return r;
	}
	if (!strcmp(mode, "sendmmsg")) {
		struct iovec iov[2] = { { buf, CHUNK }, { buf + CHUNK, CHUNK } };
		struct mmsghdr mm[2] = {};
		for (int i = 0; i < 2; i++) {
			mm[i].msg_hdr.msg_name = i == 0 ? (void *)&peer : NULL;
			mm[i].msg_hdr.msg_namelen = i == 0 ? sizeof(peer) : 0;
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		if (n < CHUNK) /* never take more than asked: the byte total must be exact */
			iov[0].iov_len = n, iov[1].iov_len = 0;
		else
			iov[1].iov_len = n - CHUNK < CHUNK ? n - CHUNK : CHUNK;
		int k = recvmmsg(fd, mm, iov[1].iov_len ? 2 : 1, MSG_WAITFORONE, NULL);
		if (k < 0)
			return -1;
		peer_len = mm[0].msg_hdr.msg_namelen;
		ssize_t total = 0;
		for (int i = 0; i < k; i++)
			total += mm[i].msg_len;
		return total;
	}
	if (!strcmp(mode, "splice")) {
		/* splice from the socket into a pipe, then drain the pipe */
		static int p[2] = { -1, -1 };
		if (p[0] < 0 && pipe(p))
			die("pipe");
		ssize_t r = splice(fd, NULL, p[1], NULL, n, 0);
		if (r > 0 && read(p[0], buf, r) != r)
			die("read pipe");
		return r;
	}
	fprintf(stderr, "sock-peer: unknown mode %s\n", mode);
	exit(2);
}

static size_t recv_all(int fd, const char *mode, size_t want)
{
	size_t got = 0;
	while (got < want) {
		size_t n = want - got < CHUNK ? want - got : CHUNK;
		ssize_t r = recv_some(fd, mode, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("recv");
		if (r == 0)
			break;
		got += r;
	}
	return got;
}

static size_t send_all(int fd, const char *mode, size_t want, struct sockaddr_storage *to, socklen_t to_len)
{
	size_t sent = 0;
	int file = -1;
	if (!strcmp(mode, "sendfile")) {
		char path[] = "/tmp/sock-peer-XXXXXX";
		file = mkstemp(path);
		if (file < 0)
			die("mkstemp");
		unlink(path);
		for (size_t left = want; left; ) {
			size_t n = left < sizeof(data) ? left : sizeof(data);
			if (write(file, data, n) != (ssize_t)n)
				die("write file");
			left -= n;
		}
		off_t off = 0;
		while (sent < want) {
			ssize_t r = sendfile(fd, file, &off, want - sent);
			if (r <= 0)
				die("sendfile");
			sent += r;
		}
		close(file);
		return sent;
	}
	while (sent < want) {
		size_t n = want - sent < CHUNK ? want - sent : CHUNK;
		ssize_t r = send_some(fd, mode, n, to, to_len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("send");
		sent += r;
	}
	return sent;
}

static void report(int fd, size_t sent, size_t received)
{
	struct sockaddr_storage l = {}, r = {};
	socklen_t ll = sizeof(l), rl = sizeof(r);
	getsockname(fd, (struct sockaddr *)&l, &ll);
	if (getpeername(fd, (struct sockaddr *)&r, &rl) != 0)
		r = peer;
	printf("{\"pid\":%d,\"lport\":%d,\"rport\":%d,\"sent\":%zu,\"received\":%zu}\n", getpid(), port_of(&l), port_of(&r),
	       sent, received);
	fflush(stdout);
}

static int fileio(const char *path)
{
	char buf[4096];
	int f = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (f < 0)
		die("open");
	for (int i = 0; i < 50; i++)
		if (write(f, data, sizeof(data)) < 0)
			die("write file");
	lseek(f, 0, SEEK_SET);
	while (read(f, buf, sizeof(buf)) > 0)
		;
	struct iovec iov = { buf, sizeof(buf) };
	lseek(f, 0, SEEK_SET);
	if (readv(f, &iov, 1) < 0 || writev(f, &iov, 1) < 0)
		die("readv/writev file");
	close(f);
	int p[2];
	if (pipe(p))
		die("pipe");
	for (int i = 0; i < 50; i++) {
		if (write(p[1], data, 100) != 100 || read(p[0], buf, 100) != 100)
			die("pipe io");
	}
	close(p[0]);
	close(p[1]);
	unlink(path);
	printf("{\"pid\":%d}\n", getpid());
	return 0;
}

int main(int argc, char **argv)
{
	memset(data, 'x', sizeof(data));
	if (argc >= 3 && !strcmp(argv[1], "fileio"))
		return fileio(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "refused")) {
		struct sockaddr_storage ss;
		socklen_t len = make_addr(argv[2], atoi(argv[3]), &ss);
		int fd = socket(ss.ss_family, SOCK_STREAM, 0);
		int r = connect(fd, (struct sockaddr *)&ss, len);
		printf("{\"pid\":%d,\"ret\":%d,\"errno\":%d}\n", getpid(), r, r ? errno : 0);
		close(fd);
		return 0;
	}
	if (argc >= 6 && !strcmp(argv[1], "flood")) {
		struct sockaddr_storage ss;
		socklen_t len = make_addr(argv[3], atoi(argv[4]), &ss);
		long count = atol(argv[5]);
		int fd = socket(ss.ss_family, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&ss, len))
			die("connect");
		for (long i = 0; i < count; i++)
			if (write(fd, data, 1) != 1)
				die("flood write");
		report(fd, count, 0);
		close(fd);
		return 0;
	}
	if (argc < 8) {
		fprintf(stderr, "usage: sock-peer server|client tcp|udp ADDR PORT MODE NBYTES RBYTES [accept|accept4]\n");
		return 2;
	}
	int server = is_server = !strcmp(argv[1], "server");
	is_udp = !strcmp(argv[2], "udp");
	const char *mode = argv[5];
	size_t nbytes = strtoul(argv[6], NULL, 10), rbytes = strtoul(argv[7], NULL, 10);
	struct sockaddr_storage ss;
	socklen_t len = make_addr(argv[3], atoi(argv[4]), &ss);
	int fd = socket(ss.ss_family, is_udp ? SOCK_DGRAM : SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));

	if (server) {
		if (bind(fd, (struct sockaddr *)&ss, len))
			die("bind");
		struct sockaddr_storage bound;
		socklen_t bl = sizeof(bound);
		getsockname(fd, (struct sockaddr *)&bound, &bl);
		int conn = fd;
		if (!is_udp && listen(fd, 8))
			die("listen");
		printf("{\"ready\":%d}\n", port_of(&bound));
		fflush(stdout);
		if (!is_udp) {
			int use4 = argc > 8 && !strcmp(argv[8], "accept4");
			conn = use4 ? accept4(fd, NULL, NULL, SOCK_CLOEXEC) : accept(fd, NULL, NULL);
			if (conn < 0)
				die("accept");
		}
		const char *rmode = !strcmp(mode, "sendfile") ? "write" : mode;
		if (is_udp && !strcmp(mode, "write"))
			rmode = "sendto"; /* the connected client reads; the server answers its learnt peer */
		size_t got = recv_all(conn, mode, nbytes);
		size_t sent = send_all(conn, rmode, rbytes, is_udp ? &peer : NULL, is_udp ? peer_len : 0);
		report(conn, sent, got);
		if (conn != fd)
			close(conn);
		close(fd);
		return got == nbytes && sent == rbytes ? 0 : 1;
	}

	/* client: UDP connects only in mode write (then write/read on a connected socket) */
	int connected = !is_udp || !strcmp(mode, "write");
	const char *bind_ip = getenv("PEER_BIND"); /* fixes the local address of an unconnected UDP client */
	if (bind_ip && *bind_ip) {
		struct sockaddr_storage b;
		socklen_t bl = make_addr(bind_ip, 0, &b);
		if (bind(fd, (struct sockaddr *)&b, bl))
			die("bind local");
	}
	if (connected && connect(fd, (struct sockaddr *)&ss, len))
		die("connect");
	size_t sent = send_all(fd, mode, nbytes, connected ? NULL : &ss, connected ? 0 : len);
	const char *rmode = !strcmp(mode, "sendfile") ? "write" : mode;
	size_t got = recv_all(fd, rmode, rbytes);
	report(fd, sent, got);
	close(fd);
	return got == rbytes && sent == nbytes ? 0 : 1;
}
