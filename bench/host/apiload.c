/*
 * API load for bench/host: C threads, each with one kept-alive connection to the daemon,
 * asking GET /v1/guests/NAME (NAME taken round-robin from the arguments) for SECS seconds;
 * prints one JSON line with the latency percentiles. A C client, so that the figures are
 * the daemon's and not a scripting language's.
 *   usage: apiload SOCKET CLIENTS SECS NAME...
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct worker {
	pthread_t t;
	int id;
	double *lat;
	size_t n, cap;
};

static const char *sock_path;
static char **names;
static int nnames, nclients;
static double secs;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads one answer (head + Content-Length body); returns its status or -1. */
static int read_answer(int fd, char *buf, size_t cap)
{
	size_t len = 0, body;
	char *end, *cl;

	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = 0;
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		cl = strcasestr(buf, "Content-Length:");
		body = cl ? strtoul(cl + 15, NULL, 10) : 0;
		while (len < (size_t)(end + 4 - buf) + body) {
			n = read(fd, buf + len, cap - len - 1);
			if (n <= 0)
				return -1;
			len += (size_t)n;
		}
		return atoi(buf + 9);
	}
}

static void *run(void *arg)
{
	struct worker *w = arg;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char req[512], *buf = malloc(1 << 20);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), k = w->id;
	double stop = now() + secs;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (!buf || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("apiload: connect");
		exit(1);
	}
	while (now() < stop) {
		double t0 = now();
		int n = snprintf(req, sizeof(req),
				 "GET /v1/guests/%s HTTP/1.1\r\nHost: lodge\r\n\r\n",
				 names[k++ % nnames]);
		if (write(fd, req, (size_t)n) != n || read_answer(fd, buf, 1 << 20) != 200) {
			fprintf(stderr, "apiload: request failed\n");
			exit(1);
		}
		if (w->n == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 4096;
			w->lat = realloc(w->lat, w->cap * sizeof(double));
			if (!w->lat)
				exit(1);
		}
		w->lat[w->n++] = (now() - t0) * 1000.0;
	}
	close(fd);
	free(buf);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct worker *w;
	double *all;
	size_t total = 0, k = 0;

	if (argc < 5) {
		fprintf(stderr, "usage: apiload SOCKET CLIENTS SECS NAME...\n");
		return 2;
	}
	sock_path = argv[1];
	nclients = atoi(argv[2]);
	secs = atof(argv[3]);
	names = argv + 4;
	nnames = argc - 4;
	w = calloc((size_t)nclients, sizeof(*w));
	for (int i = 0; i < nclients; i++) {
		w[i].id = i;
		pthread_create(&w[i].t, NULL, run, &w[i]);
	}
	for (int i = 0; i < nclients; i++) {
		pthread_join(w[i].t, NULL);
		total += w[i].n;
	}
	all = malloc(total * sizeof(double));
	for (int i = 0; i < nclients; i++)
		for (size_t j = 0; j < w[i].n; j++)
			all[k++] = w[i].lat[j];
	qsort(all, total, sizeof(double), cmp);
	printf("{\"figure\": \"api_inspect_latency_ms\", \"p50\": %.3f, \"p99\": %.3f, "
	       "\"max\": %.3f, \"requests\": %zu, \"clients\": %d, \"target_p99\": 20}\n",
	       all[total / 2], all[(size_t)((double)(total - 1) * 0.99)], all[total - 1], total,
	       nclients);
	return 0;
}
