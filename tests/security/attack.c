/* Attacker run inside test containers (tests/security/test_cve.py). Static, no libc beyond
 * musl. It only *tries*: nothing it does changes a host file even when a try succeeds.
 *
 *   attack prowl SECONDS LOG
 *     Watch /proc for processes that appear after it starts (the runtime's processes that
 *     enter the container during exec/create) and, for each one whose executable is not the
 *     container's busybox:
 *       - open /proc/PID/exe (O_PATH) and try to reopen it for writing through
 *         /proc/self/fd/N, now and again later (CVE-2019-5736: the runtime binary, the host
 *         python3). A memfd is only reported when a write of its own first byte succeeds.
 *       - PTRACE_ATTACH (CVE-2016-9962: the runtime's setup process must not be dumpable);
 *       - list /proc/PID/fd (fds to host files/dirs).
 *     Lines in LOG: READY, SEEN pid exe, NODUMP pid (exe unreadable: not dumpable),
 *     EXEOPEN pid exe (a host file reachable through /proc/PID/exe), WRITE pid exe,
 *     PTRACE pid exe, FD pid fds.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXP 4096
static int logfd;
static char baseline[MAXP * 8];   /* pids present at start: the container's own */
static char reported[MAXP * 8][7]; /* per pid: which kinds were logged already */
static int held[64], held_pid[64], nheld;
static char held_exe[64][256];

static void say(const char *kind, int pid, const char *a, const char *b)
{
    char line[700];
    int n = snprintf(line, sizeof(line), "%s %d %s %s\n", kind, pid, a ? a : "", b ? b : "");
    if (write(logfd, line, (size_t)n) < 0)
        _exit(3);
}

static int once(int pid, int kind)
{
    if (pid >= MAXP * 8 || reported[pid][kind])
        return 0;
    reported[pid][kind] = 1;
    return 1;
}

static int exe_of(int pid, char *out, size_t len)
{
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/exe", pid);
    ssize_t n = readlink(p, out, len - 1);
    if (n < 0)
        return -errno;
    out[n] = '\0';
    return 0;
}

static int is_container_bin(const char *exe)
{
    return strcmp(exe, "/bin/busybox") == 0 || strcmp(exe, "/attack") == 0;
}

/* Reopen an O_PATH fd of an executable for writing; 1 if that succeeded. */
static int try_write(int fd, const char *exe)
{
    char p[64];
    snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
    int w = open(p, O_WRONLY | O_CLOEXEC);
    if (w < 0)
        return 0;
    int ok = 1;
    if (strncmp(exe, "/memfd:", 7) == 0) {
        /* A sealed memfd opens but refuses writes: only a real write counts. */
        char c;
        int r = open(p, O_RDONLY | O_CLOEXEC);
        ok = r >= 0 && pread(r, &c, 1, 0) == 1 && pwrite(w, &c, 1, 0) == 1;
        if (r >= 0)
            close(r);
    }
    close(w);
    return ok;
}

static void probe(int pid)
{
    char exe[256], p[64];
    int r = exe_of(pid, exe, sizeof(exe));
    if (r == -EACCES || r == -EPERM) {
        if (once(pid, 0))
            say("NODUMP", pid, NULL, NULL);
    } else if (r == 0 && !is_container_bin(exe)) {
        if (once(pid, 1))
            say("SEEN", pid, exe, NULL);
    }
    if (r == 0 && is_container_bin(exe))
        return;
    snprintf(p, sizeof(p), "/proc/%d/exe", pid);
    int fd = open(p, O_PATH | O_CLOEXEC);
    if (fd >= 0) {
        char got[256];
        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(p, got, sizeof(got) - 1);
        got[n > 0 ? n : 0] = '\0';
        if (is_container_bin(got)) {
            close(fd);
        } else {
            /* A host file (not a memfd copy) reachable at all is the CVE-2019-5736 hole. */
            if (strncmp(got, "/memfd:", 7) != 0 && once(pid, 6))
                say("EXEOPEN", pid, got, NULL);
            if (try_write(fd, got) && once(pid, 2))
                say("WRITE", pid, got, NULL);
            if (nheld < 64) {  /* retried later, once the process has gone */
                held[nheld] = fd;
                held_pid[nheld] = pid;
                strcpy(held_exe[nheld++], got);
            } else {
                close(fd);
            }
        }
    }
    /* An exiting process (no exe left) can be attached whatever its dumpability: only
     * processes that still have an executable count. SEIZE + INTERRUPT and a bounded wait,
     * so that a tracee never stays stopped or traced (its parent must still reap it). */
    if ((r == 0 || r == -EACCES || r == -EPERM) &&
        ptrace(PTRACE_SEIZE, pid, 0, 0) == 0) {
        ptrace(PTRACE_INTERRUPT, pid, 0, 0);
        for (int i = 0; i < 200 && waitpid(pid, NULL, __WALL | WNOHANG) == 0; i++)
            usleep(1000);
        char now[256] = "";
        if (exe_of(pid, now, sizeof(now)) == 0 && !is_container_bin(now) && once(pid, 3))
            say("PTRACE", pid, now, NULL);
        ptrace(PTRACE_DETACH, pid, 0, 0);
    }
    snprintf(p, sizeof(p), "/proc/%d/fd", pid);
    DIR *d = opendir(p);
    if (d) {
        struct dirent *e;
        char lines[4096] = "";
        while ((e = readdir(d))) {
            char fp[300], t[256];
            if (e->d_name[0] == '.')
                continue;
            snprintf(fp, sizeof(fp), "/proc/%d/fd/%s", pid, e->d_name);
            ssize_t n = readlink(fp, t, sizeof(t) - 1);
            if (n < 0)
                continue;
            t[n] = '\0';
            size_t l = strlen(lines);
            snprintf(lines + l, sizeof(lines) - l, "%s=%s ", e->d_name, t);
        }
        closedir(d);
        char after[256] = "";
        /* Reading fds of the container's own program (after its exec) is fine. */
        if (exe_of(pid, after, sizeof(after)) == 0 && !is_container_bin(after) &&
            lines[0] && once(pid, 4))
            say("FD", pid, after, lines);
    }
}

int main(int argc, char **argv)
{
    if (argc != 4 || strcmp(argv[1], "prowl") != 0) {
        fprintf(stderr, "usage: attack prowl SECONDS LOG\n");
        return 2;
    }
    logfd = open(argv[3], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0)
        return 2;
    time_t end = time(NULL) + atoi(argv[2]);
    int self = getpid();
    DIR *d = opendir("/proc");
    struct dirent *e;
    while ((e = readdir(d)))
        if (atoi(e->d_name) > 0 && atoi(e->d_name) < MAXP * 8)
            baseline[atoi(e->d_name)] = 1;
    say("READY", self, NULL, NULL);
    while (time(NULL) < end) {
        rewinddir(d);
        while ((e = readdir(d))) {
            int pid = atoi(e->d_name);
            if (pid <= 0 || pid >= MAXP * 8 || pid == self || baseline[pid])
                continue;
            probe(pid);
        }
        for (int i = 0; i < nheld; i++)
            if (try_write(held[i], held_exe[i]) && once(held_pid[i], 5))
                say("WRITE", held_pid[i], held_exe[i], "later");
    }
    say("DONE", self, NULL, NULL);
    return 0;
}
