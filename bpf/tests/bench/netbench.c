// SPDX-License-Identifier: Apache-2.0
/*
 * cf-netbench: TCP request/response, connect/request/response and stream measurements for
 * the datapath benchmark (a netperf-like tool without netperf, which Debian does not ship).
 *
 *   cf-netbench server <port>                      echo server on port, sink on port+1,
 *                                                  echo-once-and-close on port+2
 *                                                  (thread per connection)
 *   cf-netbench rr <host> <port> <seconds> <size>  one connection, size-byte ping-pong
 *   cf-netbench crr <host> <port> <seconds>        connect, 1-byte ping-pong, close (use the
 *                                                  echo-once port; the client needs
 *                                                  net.ipv4.tcp_tw_reuse=1 so TIME_WAIT does
 *                                                  not eat its ports)
 *   cf-netbench stream <host> <port> <seconds>     one connection, 64 KiB writes (to a sink port)
 *
 * Client modes print one line: "<mode> <count> <seconds>" (transactions or bytes).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "cf-netbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int full_io(int fd, char *buf, size_t n, int writing)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = writing ? write(fd, buf + done, n - done) : read(fd, buf + done, n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

/* What a server connection does with what it reads. */
#define MODE_SINK 0
#define MODE_ECHO 1
#define MODE_ONCE 2

struct conn {
	int fd;
	int echo;
};

static void *serve(void *arg)
{
	struct conn *c = arg;
	int one = 1;
	char buf[65536];
	ssize_t n;

	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while ((n = read(c->fd, buf, sizeof(buf))) > 0) {
		if (c->echo != MODE_SINK && full_io(c->fd, buf, (size_t)n, 1) < 0)
			break;
		if (c->echo == MODE_ONCE)
			break;
	}
	close(c->fd);
	free(c);
	return NULL;
}

static int listener(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (s < 0)
		die("socket");
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1024) < 0)
		die("bind/listen");
	return s;
}

struct acceptor {
	int fd;
	int echo;
};

static void *accept_loop(void *arg)
{
	struct acceptor *a = arg;

	for (;;) {
		struct conn *c = malloc(sizeof(*c));
		pthread_t t;

		if (!c)
			die("malloc");
		c->fd = accept(a->fd, NULL, NULL);
		c->echo = a->echo;
		if (c->fd < 0) {
			free(c);
			continue;
		}
		if (pthread_create(&t, NULL, serve, c) == 0) {
			pthread_detach(t);
		} else {
			close(c->fd);
			free(c);
		}
	}
	return NULL;
}

static int server(int port)
{
	static struct acceptor echo, sink, once;
	pthread_t t;

	echo.fd = listener(port);
	echo.echo = MODE_ECHO;
	sink.fd = listener(port + 1);
	sink.echo = MODE_SINK;
	once.fd = listener(port + 2);
	once.echo = MODE_ONCE;
	if (pthread_create(&t, NULL, accept_loop, &sink) != 0 || pthread_create(&t, NULL, accept_loop, &once) != 0)
		die("pthread_create");
	printf("ready\n");
	fflush(stdout);
	accept_loop(&echo);
	return 0;
}

static int dial(const char *host, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (s < 0)
		die("socket");
	inet_pton(AF_INET, host, &a.sin_addr);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return s;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && strcmp(argv[1], "server") == 0)
		return server(atoi(argv[2]));
	if (argc >= 5) {
		const char *mode = argv[1], *host = argv[2];
		int port = atoi(argv[3]);
		double secs = atof(argv[4]), start, end;
		unsigned long long count = 0;
		static char buf[65536];

		if (strcmp(mode, "rr") == 0) {
			size_t size = argc > 5 ? (size_t)atoi(argv[5]) : 1;
			int s = dial(host, port);

			start = now();
			end = start + secs;
			while (now() < end) {
				if (full_io(s, buf, size, 1) < 0 || full_io(s, buf, size, 0) < 0)
					die("rr");
				count++;
			}
			close(s);
		} else if (strcmp(mode, "crr") == 0) {
			start = now();
			end = start + secs;
			while (now() < end) {
				int s = dial(host, port);

				if (full_io(s, buf, 1, 1) < 0 || full_io(s, buf, 1, 0) < 0)
					die("crr");
				close(s);
				count++;
			}
		} else if (strcmp(mode, "stream") == 0) {
			int s = dial(host, port);

			start = now();
			end = start + secs;
			while (now() < end) {
				if (full_io(s, buf, sizeof(buf), 1) < 0)
					die("stream");
				count += sizeof(buf);
			}
			close(s);
		} else {
			goto usage;
		}
		printf("%s %llu %.6f\n", mode, count, now() - start);
		return 0;
	}
usage:
	fprintf(stderr, "usage: cf-netbench server <port> | rr|crr|stream <host> <port> <seconds> [size]\n");
	return 2;
}
