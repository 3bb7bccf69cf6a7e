/* pyrunc-init: the last stage of a container's init, and its PID 1 while it is "created".
 *
 * Python sets the container up (namespaces, mounts, pivot_root, user, capabilities, ...) and
 * then fexecve()s this program from a sealed memfd. Why a separate static binary:
 *  - CVE-2019-5736: the process parked in the container must not expose a host binary through
 *    /proc/PID/exe. A sealed memfd copy cannot be written, and the host python3 is never the
 *    executable of a process that container code can see once it runs.
 *  - Cost: a parked interpreter holds ~3 MiB of private memory; this holds a few pages.
 *
 * argv: pyrunc-init FIFO_FD[,HOOKS_FD][:SECCOMP_FD][!STDIO_MASK] PATH ARG0 [ARGS...]
 *       (FIFO_FD -1: no handshake; STDIO_MASK: fds 0-2 to close first)
 * envp: the container process's environment, passed through to PATH.
 *
 * exec.fifo protocol: `pyrunc start` opens the read side, which unblocks our open; we run
 * the startContainer hooks (HOOKS_FD: a memfd written by Python, see pyrunc/hooks.py) and
 * answer "0", or "1" and the reason, which `start` reports as its error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static void die(const char *what, const char *arg)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "pyrunc-init: %s %s: %s\n", what, arg, strerror(errno));
    if (n > 0 && write(2, buf, (size_t)n) < 0)
        _exit(127);
    _exit(127);
}

/* Python ignores SIGPIPE and SIGXFSZ, and ignored dispositions survive execve: give the
 * container process the defaults and an empty signal mask, as a fresh process would have. */
static void reset_signals(void)
{
    /* rt_sigaction directly: libc wrappers refuse the signals they reserve for themselves
     * (32-34), and an ignored one of those would survive into the container. */
    struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } dfl;
    memset(&dfl, 0, sizeof(dfl));
    for (int sig = 1; sig <= 64; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP)
            syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));
    }
    unsigned long none = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(none));
}

static char *blob;      /* the hooks memfd's content: NUL-separated fields */
static size_t blob_len, blob_pos;

static char *next_field(void)
{
    if (blob_pos >= blob_len)
        return NULL;
    char *s = blob + blob_pos;
    blob_pos += strlen(s) + 1;
    return s;
}

static int load_hooks(int fd)
{
    off_t size = lseek(fd, 0, SEEK_END);
    if (size <= 0 || !(blob = malloc((size_t)size + 1)))
        return -1;
    if (pread(fd, blob, (size_t)size, 0) != size)
        return -1;
    blob[size] = '\0';
    blob_len = (size_t)size;
    close(fd);
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run one hook with the state on stdin and its output captured; 0 on success, else
 * a message in err. */
static int run_hook(char *path, char **argv, char **envp, int timeout, const char *state,
                    char *err, size_t errlen)
{
    int in[2], out[2];
    char buf[1024];
    size_t got = 0;
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        execve(path, argv, envp);
        dprintf(2, "fork/exec %s: %s", path, strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    signal(SIGPIPE, SIG_IGN);
    /* A hook may exit without reading its stdin: EPIPE is not a failure. */
    ssize_t ignored = write(in[1], state, strlen(state));
    (void)ignored;
    close(in[1]);
    double deadline = timeout > 0 ? now() + timeout : 0;
    int status = 0, done = 0;
    struct pollfd p = {out[0], POLLIN, 0};
    while (!done) {
        if (poll(&p, 1, 10) > 0) {
            char scratch[512];
            int room = got < sizeof(buf) - 1;  /* keep the first 1 KiB, drain the rest */
            ssize_t n = room ? read(out[0], buf + got, sizeof(buf) - 1 - got)
                             : read(out[0], scratch, sizeof(scratch));
            if (n > 0 && room)
                got += (size_t)n;
            if (n <= 0)
                p.fd = -1;
        }
        if (waitpid(pid, &status, WNOHANG) == pid)
            done = 1;
        else if (deadline && now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            close(out[0]);
            signal(SIGPIPE, SIG_DFL);
            snprintf(err, errlen, "hook ran past specified timeout of %d.0s", timeout);
            return -1;
        }
    }
    close(out[0]);
    signal(SIGPIPE, SIG_DFL);
    buf[got] = '\0';
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFSIGNALED(status))
        snprintf(err, errlen, "signal: %s%s%s", strsignal(WTERMSIG(status)),
                 got ? ", output: " : "", buf);
    else
        snprintf(err, errlen, "exit status %d%s%s", WEXITSTATUS(status),
                 got ? ", output: " : "", buf);
    return -1;
}

/* The startContainer hooks, in order; the first failure is reported through `w`. */
static int run_start_hooks(int w)
{
    char err[1400], msg[1600];
    char *count = next_field();
    int n = count ? atoi(count) : 0;
    char **fields = calloc(blob_len + 1, sizeof(char *));
    for (int i = 0; i < n; i++) {
        int timeout = atoi(next_field());
        char *path = next_field();
        int argc = atoi(next_field());
        char **argv = fields;
        for (int a = 0; a < argc; a++)
            argv[a] = next_field();
        argv[argc] = NULL;
        int envc = atoi(next_field());
        char **envp = argv + argc + 1;
        for (int e = 0; e < envc; e++)
            envp[e] = next_field();
        envp[envc] = NULL;
        size_t save = blob_pos;
        for (int k = i + 1; k < n; k++) {  /* skip to the state, kept last */
            next_field(); next_field();
            int ac = atoi(next_field());
            for (int a = 0; a < ac; a++) next_field();
            int ec = atoi(next_field());
            for (int e = 0; e < ec; e++) next_field();
        }
        char *state = next_field();
        blob_pos = save;
        if (run_hook(path, argv, envp, timeout, state ? state : "{}", err, sizeof(err)) < 0) {
            int len = snprintf(msg, sizeof(msg), "1error running startContainer hook #%d: %s",
                               i, err);
            if (write(w, msg, (size_t)len) < 0)
                return -1;
            return -1;
        }
    }
    return 0;
}

/* The seccomp filter with noNewPrivileges (SECCOMP_FD: a memfd written by pyrunc/seccomp.py:
 * u32 seccomp(2) flags, then the BPF instructions). Loaded as late as possible - after the
 * startContainer hooks, right before the last write to exec.fifo and the execve - so that
 * a profile need allow nothing of ours but write, close and execve. */
struct sock_filter { uint16_t code; uint8_t jt, jf; uint32_t k; };  /* linux/filter.h */
struct sock_fprog { unsigned short len; struct sock_filter *filter; };
#define SECCOMP_SET_MODE_FILTER 1
static struct sock_fprog seccomp_prog;
static unsigned int seccomp_flags;

static void read_seccomp(char *fd_arg)
{
    char *colon = strchr(fd_arg, ':');
    if (!colon)
        return;
    *colon = '\0';
    int fd = atoi(colon + 1);
    off_t size = lseek(fd, 0, SEEK_END);
    char *buf = size > 4 ? malloc((size_t)size) : NULL;
    if (!buf || pread(fd, buf, (size_t)size, 0) != size)
        die("read seccomp filter", colon + 1);
    memcpy(&seccomp_flags, buf, 4);
    seccomp_prog.len = (unsigned short)((size - 4) / sizeof(struct sock_filter));
    seccomp_prog.filter = (struct sock_filter *)(buf + 4);
    close(fd);
}

static int load_seccomp(void)
{
    if (!seccomp_prog.filter)
        return 0;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, seccomp_flags, &seccomp_prog);
}

/* Block until `pyrunc start` opens the read side of exec.fifo, run the startContainer
 * hooks, then answer. The fd is an O_PATH handle opened before pivot_root; reopening it
 * through /proc makes the open block like a plain open of the fifo would. */
static void wait_for_start(const char *fd_arg)
{
    char path[64];
    char *comma = strchr(fd_arg, ',');
    int fd = atoi(fd_arg);
    if (comma && load_hooks(atoi(comma + 1)) < 0)
        die("read hooks", comma + 1);
    if (fd < 0)
        return;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    int w = open(path, O_WRONLY | O_CLOEXEC);
    if (w < 0)
        die("open exec fifo", path);
    /* The reopen went through the container's /proc: it must have given back the fifo we
     * hold, not a file that a mount over /proc (from an exec'd process) put there. */
    struct stat held, got;
    if (fstat(fd, &held) < 0 || fstat(w, &got) < 0 || held.st_dev != got.st_dev ||
        held.st_ino != got.st_ino || !S_ISFIFO(got.st_mode)) {
        errno = EXDEV;
        die("open exec fifo: not our fifo:", path);
    }
    if (blob && run_start_hooks(w) < 0)
        _exit(1);
    if (load_seccomp() < 0) {
        char msg[128];
        int len = snprintf(msg, sizeof(msg), "1load seccomp filter: %s", strerror(errno));
        if (write(w, msg, (size_t)len) < 0)
            _exit(1);
        _exit(1);
    }
    if (write(w, "0", 1) != 1)
        die("write exec fifo", path);
    close(w);
    close(fd);
}

int main(int argc, char **argv, char **envp)
{
    /* Until execve, nothing in the container may read our fds or memory through /proc. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    /* Python exec'd us with a spare effective gid so that the kernel made us non-dumpable
     * from the first instruction (pyrunc/process/init.py:_nondumpable_exec): back to the
     * real gid, allowed without CAP_SETGID. The credential change keeps us non-dumpable. */
    gid_t gid = getgid();
    if (getegid() != gid && setresgid(gid, gid, gid) < 0)
        die("setresgid", "");
    if (argc < 4) {
        errno = EINVAL;
        die("usage:", "FIFO_FD PATH ARG0 [ARGS...]");
    }
    /* "!MASK": fds 0-2 that the caller had closed; the libc of this secure exec opened
     * /dev/null there. Closed again, so the container's process gets them closed. */
    char *bang = strchr(argv[1], '!');
    if (bang) {
        int mask = atoi(bang + 1);
        *bang = '\0';
        for (int fd = 0; fd < 3; fd++)
            if (mask & (1 << fd))
                close(fd);
    }
    reset_signals();
    read_seccomp(argv[1]);
    wait_for_start(argv[1]);
    if (atoi(argv[1]) < 0 && load_seccomp() < 0)
        die("load seccomp filter", "");
    execve(argv[2], argv + 3, envp);
    die("exec", argv[2]);
    return 127;
}
