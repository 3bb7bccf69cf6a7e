/* probe: prints facts about the process it runs as, from inside a container, as one JSON
 * object on stdout.  It is static so it runs in a bare busybox rootfs, and it reads only
 * kernel interfaces (/proc, syscalls) so the facts do not depend on the rootfs' tools.
 *
 * Arguments add facts about paths:  r:PATH reads a file (first 64 KiB), s:PATH lstat()s a
 * path, w:PATH tries to create/append to a file, l:PATH lists a directory, and x:N makes
 * the probe exit with status N after printing.  Errors are reported as errno names. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>

extern char **environ;

static void jstr(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void jkey(const char *k, int *first)
{
	if (!*first)
		putchar(',');
	*first = 0;
	jstr(k);
	putchar(':');
}

static void jerr(int e)
{
	printf("{\"error\":");
	jstr(strerrorname_np(e) ? strerrorname_np(e) : "E?");
	putchar('}');
}

/* Reads a whole small file; returns a malloc'd NUL-terminated buffer or NULL with errno. */
static char *slurp(const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	char *buf = malloc(max + 1);
	size_t n = 0;
	ssize_t r;
	while (n < max && (r = read(fd, buf + n, max - n)) > 0)
		n += r;
	int e = errno;
	close(fd);
	if (r < 0) {
		free(buf);
		errno = e;
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

static void file_or_error(const char *path)
{
	char *s = slurp(path, 65536);
	if (!s) {
		jerr(errno);
		return;
	}
	jstr(s);
	free(s);
}

/* The /proc/self/status lines we report as they are (caps as hex masks, umask in octal). */
static void status_fields(int *first)
{
	static const char *keys[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
				     "Seccomp", "Umask", "NSpid", NULL};
	char *s = slurp("/proc/self/status", 65536);
	if (!s)
		return;
	for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = 0;
		for (int i = 0; keys[i]; i++) {
			if (strcmp(line, keys[i]) == 0) {
				char *v = colon + 1;
				while (*v == ' ' || *v == '\t')
					v++;
				jkey(line, first);
				jstr(v);
			}
		}
	}
	free(s);
}

static void namespaces(void)
{
	static const char *ns[] = {"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time",
				   "user", "uts", NULL};
	int first = 1;
	putchar('{');
	for (int i = 0; ns[i]; i++) {
		char path[64], target[256];
		snprintf(path, sizeof path, "/proc/self/ns/%s", ns[i]);
		ssize_t n = readlink(path, target, sizeof target - 1);
		if (n < 0)
			continue;
		target[n] = 0;
		jkey(ns[i], &first);
		jstr(target);
	}
	putchar('}');
}

static void rlimits(void)
{
	static const struct {
		const char *name;
		int res;
	} rl[] = {{"RLIMIT_AS", RLIMIT_AS},	    {"RLIMIT_CORE", RLIMIT_CORE},
		  {"RLIMIT_CPU", RLIMIT_CPU},	    {"RLIMIT_DATA", RLIMIT_DATA},
		  {"RLIMIT_FSIZE", RLIMIT_FSIZE},   {"RLIMIT_LOCKS", RLIMIT_LOCKS},
		  {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
		  {"RLIMIT_NICE", RLIMIT_NICE},	    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
		  {"RLIMIT_NPROC", RLIMIT_NPROC},   {"RLIMIT_RSS", RLIMIT_RSS},
		  {"RLIMIT_RTPRIO", RLIMIT_RTPRIO}, {"RLIMIT_RTTIME", RLIMIT_RTTIME},
		  {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING}, {"RLIMIT_STACK", RLIMIT_STACK},
		  {NULL, 0}};
	int first = 1;
	putchar('{');
	for (int i = 0; rl[i].name; i++) {
		struct rlimit r;
		if (getrlimit(rl[i].res, &r) < 0)
			continue;
		jkey(rl[i].name, &first);
		/* -1 stands for RLIM_INFINITY so the JSON stays within double precision. */
		printf("[%lld,%lld]", r.rlim_cur == RLIM_INFINITY ? -1LL : (long long)r.rlim_cur,
		       r.rlim_max == RLIM_INFINITY ? -1LL : (long long)r.rlim_max);
	}
	putchar('}');
}

/* Listed before anything else is opened, so the list is what the runtime passed in. */
static char fdlist[8192];

static void snapshot_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t off = 0;
	int first = 1;
	if (!d) {
		strcpy(fdlist, "null");
		return;
	}
	off += snprintf(fdlist + off, sizeof fdlist - off, "{");
	struct dirent *de;
	while ((de = readdir(d)) && off < sizeof fdlist - 600) {
		if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d))
			continue;
		char path[300], target[512];
		snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
		ssize_t n = readlink(path, target, sizeof target - 1);
		target[n < 0 ? 0 : n] = 0;
		for (char *p = target; *p; p++)
			if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
				*p = '?';
		off += snprintf(fdlist + off, sizeof fdlist - off, "%s\"%s\":\"%s\"", first ? "" : ",",
				de->d_name, target);
		first = 0;
	}
	closedir(d);
	snprintf(fdlist + off, sizeof fdlist - off, "}");
}

/* Terminal facts: which stdio fds are ttys, the window size, the controlling tty. */
static void tty_facts(void)
{
	struct winsize ws = {0};
	int have_ws = ioctl(0, TIOCGWINSZ, &ws) == 0;
	const char *name = ttyname(0);
	int tty_nr = 0;
	char *stat = slurp("/proc/self/stat", 4096);
	if (stat) {
		/* Field 7 (tty_nr) counted after the ")" that ends the command name. */
		char *p = strrchr(stat, ')');
		if (p)
			sscanf(p + 2, "%*c %*d %*d %*d %d", &tty_nr);
		free(stat);
	}
	printf("{\"isatty\":[%s,%s,%s],\"rows\":%d,\"cols\":%d,\"tty_nr\":%d,\"name\":",
	       isatty(0) ? "true" : "false", isatty(1) ? "true" : "false",
	       isatty(2) ? "true" : "false", have_ws ? ws.ws_row : -1, have_ws ? ws.ws_col : -1,
	       tty_nr);
	if (name)
		jstr(name);
	else
		printf("null");
	putchar('}');
}

static void stat_path(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		jerr(errno);
		return;
	}
	const char *type = S_ISREG(st.st_mode)	  ? "file"
			   : S_ISDIR(st.st_mode)  ? "dir"
			   : S_ISLNK(st.st_mode)  ? "symlink"
			   : S_ISCHR(st.st_mode)  ? "char"
			   : S_ISBLK(st.st_mode)  ? "block"
			   : S_ISFIFO(st.st_mode) ? "fifo"
						  : "socket";
	printf("{\"type\":\"%s\",\"mode\":%u,\"uid\":%u,\"gid\":%u,\"major\":%u,\"minor\":%u", type,
	       st.st_mode & 07777, st.st_uid, st.st_gid, major(st.st_rdev), minor(st.st_rdev));
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(path, target, sizeof target - 1);
		target[n < 0 ? 0 : n] = 0;
		printf(",\"target\":");
		jstr(target);
	}
	putchar('}');
}

static void write_path(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, "x", 1) != 1) {
		jerr(errno);
	} else {
		printf("{\"ok\":true}");
	}
	if (fd >= 0)
		close(fd);
}

static void list_dir(const char *path)
{
	DIR *d = opendir(path);
	int first = 1;
	if (!d) {
		jerr(errno);
		return;
	}
	putchar('[');
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (!first)
			putchar(',');
		first = 0;
		jstr(de->d_name);
	}
	closedir(d);
	putchar(']');
}

int main(int argc, char **argv)
{
	int first = 1, exit_code = 0;
	snapshot_fds();

	putchar('{');
	jkey("fds", &first);
	fputs(fdlist, stdout);
	jkey("pid", &first);
	printf("%d", getpid());
	jkey("ppid", &first);
	printf("%d", getppid());
	jkey("sid", &first);
	printf("%d", getsid(0));
	jkey("pgid", &first);
	printf("%d", getpgid(0));
	jkey("uid", &first);
	printf("%u", getuid());
	jkey("euid", &first);
	printf("%u", geteuid());
	jkey("gid", &first);
	printf("%u", getgid());
	jkey("egid", &first);
	printf("%u", getegid());
	jkey("groups", &first);
	gid_t groups[256];
	int ng = getgroups(256, groups);
	putchar('[');
	for (int i = 0; i < ng; i++)
		printf("%s%u", i ? "," : "", groups[i]);
	putchar(']');

	char cwd[PATH_MAX];
	jkey("cwd", &first);
	if (getcwd(cwd, sizeof cwd))
		jstr(cwd);
	else
		jerr(errno);

	jkey("env", &first);
	putchar('[');
	for (char **e = environ; *e; e++) {
		if (e != environ)
			putchar(',');
		jstr(*e);
	}
	putchar(']');

	jkey("args", &first);
	putchar('[');
	for (int i = 0; i < argc; i++) {
		if (i)
			putchar(',');
		jstr(argv[i]);
	}
	putchar(']');

	struct utsname u;
	uname(&u);
	jkey("hostname", &first);
	jstr(u.nodename);
	jkey("domainname", &first);
	jstr(u.domainname);

	status_fields(&first);
	jkey("ns", &first);
	namespaces();
	jkey("rlimits", &first);
	rlimits();
	jkey("oom_score_adj", &first);
	file_or_error("/proc/self/oom_score_adj");
	jkey("cgroup", &first);
	file_or_error("/proc/self/cgroup");
	jkey("mountinfo", &first);
	file_or_error("/proc/self/mountinfo");
	jkey("stdin_isatty", &first);
	printf("%s", isatty(0) ? "true" : "false");
	jkey("tty", &first);
	tty_facts();

	/* Per-path facts, keyed by the argument itself so callers can ask for the same path
	 * in several ways. */
	jkey("paths", &first);
	putchar('{');
	int pfirst = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "x:", 2) == 0) {
			exit_code = atoi(a + 2);
			continue;
		}
		if (strlen(a) < 3 || a[1] != ':')
			continue;
		jkey(a, &pfirst);
		switch (a[0]) {
		case 'r':
			file_or_error(a + 2);
			break;
		case 's':
			stat_path(a + 2);
			break;
		case 'w':
			write_path(a + 2);
			break;
		case 'l':
			list_dir(a + 2);
			break;
		default:
			printf("null");
		}
	}
	putchar('}');
	puts("}");
	fflush(stdout);
	return exit_code;
}
