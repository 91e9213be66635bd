/*
 * `openstack` for the CLI tests: hands the call (argv, environment,
 * working directory, fds 0-2) to osc_forkserver.py on $TS_OSC_SOCK and
 * exits with the status the forked openstackclient returns. Without a
 * server (not started, or not warm yet) it runs the real client,
 * $TS_OSC_REAL (default /usr/bin/openstack), itself: the result is the
 * same, only slower.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

#define PAYLOAD_MAX	(1u << 20)

static void
run_real(char **argv)
{
	const char *real = getenv("TS_OSC_REAL");

	if (real == NULL || *real == '\0')
		real = "/usr/bin/openstack";
	argv[0] = (char *)real;
	execv(real, argv);
	fprintf(stderr, "openstack: cannot run %s: %s\n", real,
	    strerror(errno));
	exit(127);
}

static int
add(char *buf, size_t *len, const char *s)
{
	size_t n = strlen(s) + 1;

	if (*len + n > PAYLOAD_MAX)
		return -1;
	memcpy(buf + *len, s, n);
	*len += n;
	return 0;
}

int
main(int argc, char **argv)
{
	const char *path = getenv("TS_OSC_SOCK");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char cwd[4096], num[16], cbuf[CMSG_SPACE(3 * sizeof(int))];
	struct msghdr mh = { 0 };
	struct iovec iov;
	struct cmsghdr *cm;
	int fds[3] = { 0, 1, 2 }, s;
	size_t len = 4, off;
	unsigned char status;
	uint32_t be;
	char *buf;
	ssize_t n;

	if (path == NULL || strlen(path) >= sizeof(sa.sun_path) ||
	    getcwd(cwd, sizeof(cwd)) == NULL)
		run_real(argv);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(s, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		run_real(argv);
	if ((buf = malloc(PAYLOAD_MAX)) == NULL)
		run_real(argv);
	snprintf(num, sizeof(num), "%d", argc - 1);
	if (add(buf, &len, cwd) == -1 || add(buf, &len, num) == -1)
		run_real(argv);
	for (int i = 1; i < argc; i++)
		if (add(buf, &len, argv[i]) == -1)
			run_real(argv);
	for (char **e = environ; *e != NULL; e++)
		if (add(buf, &len, *e) == -1)
			run_real(argv);
	be = htonl((uint32_t)(len - 4));
	memcpy(buf, &be, 4);

	/* The fds ride on the first chunk; the rest follows plainly. */
	iov.iov_base = buf;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	if ((n = sendmsg(s, &mh, MSG_NOSIGNAL)) <= 0)
		run_real(argv);
	for (off = (size_t)n; off < len; off += (size_t)n)
		if ((n = send(s, buf + off, len - off, MSG_NOSIGNAL)) <= 0) {
			/* Half a call reached the server: it drops it. */
			fprintf(stderr, "openstack: fork server: %s\n",
			    strerror(errno));
			return 255;
		}
	free(buf);
	/* The call has started: from here on, its status or a failure. */
	do
		n = recv(s, &status, 1, 0);
	while (n == -1 && errno == EINTR);
	if (n != 1) {
		fprintf(stderr, "openstack: fork server ended the call "
		    "without a status\n");
		return 255;
	}
	return status;
}
