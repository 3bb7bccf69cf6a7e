/* Test helper run inside containers: send argv[1] as one datagram to $NOTIFY_SOCKET
 * (busybox's nc cannot talk to a unix datagram socket). Built static by the tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (argc < 2 || !path || strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: NOTIFY_SOCKET=path sdnotify MESSAGE\n");
		return 2;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, argv[1], strlen(argv[1]), 0,
			     (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("sdnotify");
		return 1;
	}
	return 0;
}
