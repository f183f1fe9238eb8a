/* Tests scripts/wheel/glibc-compat.c where it runs: linked as mgpr is (against
 * bullseye's glibc, with the compatibility object) and run by scripts/wheel-check.sh on
 * this machine and in the bullseye root. Exits 1 on any failure, printing it.
 *   compat_test            the math wrappers against the glibc that runs them, and
 *                          posix_spawn_file_actions_addchdir_np changing the directory
 *   compat_test fallback   built with a version no glibc has: ENOSYS, so that
 *                          Foundation's Process changes directory itself
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static int failures;

static void expect(int ok, const char *what) {
    printf("  %s  %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) failures++;
}

/* Each wrapper against the newest version of the same function in the running libm,
 * bit for bit, over a spread of arguments (the old and new versions differ only in
 * how they report errors). */
static void math_matches(void) {
    typedef double (*unary)(double);
    typedef double (*binary)(double, double);
    const char *names[] = {"exp", "exp2", "log", "log2"};
    unary ours[] = {exp, exp2, log, log2};
    void *libm = dlopen("libm.so.6", RTLD_NOW);
    for (int f = 0; f < 4; f++) {
        unary theirs = (unary)dlsym(libm, names[f]);
        int same = theirs != NULL;
        for (int i = 1; same && i < 2000; i++) {
            double x = i * 0.0173;
            same = ours[f](x) == theirs(x);
        }
        char what[80];
        snprintf(what, sizeof what, "%s matches libm's own over 2000 arguments", names[f]);
        expect(same, what);
    }
    binary theirs = (binary)dlsym(libm, "pow");
    int same = theirs != NULL;
    for (int i = 1; same && i < 2000; i++) same = pow(i * 0.011, 0.37 * (i % 13)) == theirs(i * 0.011, 0.37 * (i % 13));
    expect(same, "pow matches libm's own over 2000 arguments");
    expect(exp(1.0) == M_E && log2(1024.0) == 10.0 && pow(2.0, 10.0) == 1024.0, "exp(1), log2(1024), pow(2, 10)");
}

static void spawn_in_folder(int expect_fallback) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    int status = posix_spawn_file_actions_addchdir_np(&actions, "/tmp");
    if (expect_fallback) {
        expect(status == ENOSYS, "addchdir_np without glibc's: ENOSYS");
        posix_spawn_file_actions_destroy(&actions);
        return;
    }
    expect(status == 0, "addchdir_np accepted");
    int out[2];
    if (pipe(out) != 0) { expect(0, "pipe"); return; }
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    char *argv[] = {"/bin/pwd", NULL};
    pid_t pid;
    int spawned = posix_spawn(&pid, "/bin/pwd", &actions, NULL, argv, environ) == 0;
    close(out[1]);
    char text[256] = {0};
    ssize_t n = spawned ? read(out[0], text, sizeof text - 1) : 0;
    if (spawned) waitpid(pid, NULL, 0);
    expect(spawned && n > 0 && strcmp(text, "/tmp\n") == 0, "a child spawned with addchdir_np(/tmp) runs in /tmp");
    posix_spawn_file_actions_destroy(&actions);
}

int main(int argc, char **argv) {
    int fallback = argc > 1 && strcmp(argv[1], "fallback") == 0;
    if (!fallback) math_matches();
    spawn_in_folder(fallback);
    return failures ? 1 : 0;
}
