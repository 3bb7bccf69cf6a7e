/* pyrunc-init: the last stage of a container's init, and its PID 1 while it is "created".
 *
 * Python sets the container up (namespaces, mounts, pivot_root, user, capabilities, ...) and
 * then fexecve()s this program from a sealed memfd. Why a separate static binary:
 *  - CVE-2019-5736: the process parked in the container must not expose a host binary through
 *    /proc/PID/exe. A sealed memfd copy cannot be written, and the host python3 is never the
 *    executable of a process that container code can see once it runs.
 *  - Cost: a parked interpreter holds ~3 MiB of private memory; this holds a few pages.
 *
 * argv: pyrunc-init FIFO_FD PATH ARG0 [ARGS...]   (FIFO_FD -1: no create/start handshake)
 * envp: the container process's environment, passed through to PATH.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>

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
    sigset_t none;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Block until `pyrunc start` opens the read side of exec.fifo, then hand it one byte.
 * The fd is an O_PATH handle opened before pivot_root; reopening it through /proc makes
 * the open block like a plain open of the fifo would. */
static void wait_for_start(const char *fd_arg)
{
    char path[64];
    int fd = atoi(fd_arg);
    if (fd < 0)
        return;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    int w = open(path, O_WRONLY | O_CLOEXEC);
    if (w < 0)
        die("open exec fifo", path);
    if (write(w, "0", 1) != 1)
        die("write exec fifo", path);
    close(w);
    close(fd);
}

int main(int argc, char **argv, char **envp)
{
    /* Until execve, nothing in the container may read our fds or memory through /proc. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (argc < 4) {
        errno = EINVAL;
        die("usage:", "FIFO_FD PATH ARG0 [ARGS...]");
    }
    reset_signals();
    wait_for_start(argv[1]);
    execve(argv[2], argv + 3, envp);
    die("exec", argv[2]);
    return 127;
}
