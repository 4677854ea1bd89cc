/*
 * test_cli.c - how the CLI fails on each broken GGUF file of test_gguf.c and
 * on each bad command line. It must exit with status 1 and print one line on
 * stderr that starts with "pinfer: " and names the problem. It must print
 * nothing on stdout and set off no sanitizer report.
 *
 * The binary is $PINFER_CLI (build/pinfer by default), run as a child process
 * with stdin from /dev/null and its output in files of a fresh directory
 * under $TMPDIR (or /tmp). Hostile prompts and flags, a model file that
 * shrinks mid-run and the memory checks run the same way.
 */
#define _DEFAULT_SOURCE /* wait4, for a child's peak RSS; glibc hides it under plain POSIX */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "gguf_writer.h"

/* Seconds a run may take before the child is killed. Every case fails before the model is evaluated. */
#define CLI_TIMEOUT_S 60

/* What one run of the CLI produced. */
struct cli_run {
    int exited;      /* 1 if the child exited, 0 if a signal ended it */
    int exit_status; /* if exited */
    int signal;      /* if not exited */
    char *out;       /* all of stdout, NUL-terminated */
    char *err;       /* all of stderr, NUL-terminated */
};

static const char *cli_path(void)
{
    const char *path = getenv("PINFER_CLI");
    return path && *path ? path : "build/pinfer";
}

/* Replaces fd by a file opened with flags, in the child. Returns 0, or -1 on failure. */
static int redirect(int fd, const char *path, int flags)
{
    int file = open(path, flags, 0600);

    if (file < 0)
        return -1;
    if (dup2(file, fd) < 0)
        return -1;
    close(file);
    return 0;
}

/*
 * Runs the CLI with argv (argv[0] included, NULL-terminated), its stdout and
 * stderr going to files in dir. Returns 0 and fills run, or -1 when the
 * child could not be started or its output could not be read.
 */
static int run_cli(const char *dir, char *const argv[], struct cli_run *run)
{
    char out_path[4096], err_path[4096];
    pid_t pid;
    int status;

    memset(run, 0, sizeof *run);
    snprintf(out_path, sizeof out_path, "%s/stdout.txt", dir);
    snprintf(err_path, sizeof err_path, "%s/stderr.txt", dir);
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (redirect(0, "/dev/null", O_RDONLY) != 0 ||
            redirect(1, out_path, O_WRONLY | O_CREAT | O_TRUNC) != 0 ||
            redirect(2, err_path, O_WRONLY | O_CREAT | O_TRUNC) != 0)
            _exit(126);
        alarm(CLI_TIMEOUT_S);
        execv(argv[0], argv);
        fprintf(stderr, "test_cli: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    run->exited = WIFEXITED(status);
    run->exit_status = run->exited ? WEXITSTATUS(status) : 0;
    run->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    run->out = read_file(out_path, NULL);
    run->err = read_file(err_path, NULL);
    unlink(out_path);
    unlink(err_path);
    return run->out && run->err ? 0 : -1;
}

static void free_run(struct cli_run *run)
{
    free(run->out);
    free(run->err);
}

/* Case-insensitive strstr, because the CLI may capitalize a libc message ("Is a directory"). */
static int contains_ignoring_case(const char *text, const char *part)
{
    size_t i, j, n = strlen(part);

    for (i = 0; text[i]; i++) {
        for (j = 0; j < n; j++) {
            char a = text[i + j], b = part[j];
            if (a >= 'A' && a <= 'Z')
                a = (char)(a - 'A' + 'a');
            if (b >= 'A' && b <= 'Z')
                b = (char)(b - 'A' + 'a');
            if (a != b)
                break;
        }
        if (j == n)
            return 1;
    }
    return n == 0;
}

/*
 * Runs the CLI and checks that it failed as a user should see it. It must
 * exit with status 1 and print one stderr line that starts with "pinfer: ".
 * That line must contain subject (the file or flag at fault) and problem
 * (what is wrong with it, unless NULL). stdout must stay empty, and no
 * sanitizer may report. label names the case in check names.
 */
static void expect_failure(const char *dir, const char *label, char *const argv[], const char *subject,
                           const char *problem)
{
    struct cli_run run;
    char name[160];
    char *newline;
    int one_line;

    snprintf(name, sizeof name, "cli %s runs", label);
    if (run_cli(dir, argv, &run) != 0) {
        check(0, name, "cannot run %s or read its output: %s", argv[0], strerror(errno));
        free_run(&run);
        return;
    }

    newline = strchr(run.err, '\n');
    one_line = newline != NULL && newline[1] == 0;
    if (one_line)
        *newline = 0; /* so that the details below show the line without it */

    snprintf(name, sizeof name, "cli %s exit status", label);
    check(run.exited && run.exit_status == 1, name, "%s %d, expected exit status 1 (stderr: %s)",
          run.exited ? "exit status" : "killed by signal", run.exited ? run.exit_status : run.signal, run.err);

    snprintf(name, sizeof name, "cli %s names subject", label);
    check(contains_ignoring_case(run.err, subject), name, "stderr '%s', expected it to contain '%s'", run.err,
          subject);
    if (problem) {
        snprintf(name, sizeof name, "cli %s names problem", label);
        check(contains_ignoring_case(run.err, problem), name, "stderr '%s', expected it to contain '%s'", run.err,
              problem);
    }

    snprintf(name, sizeof name, "cli %s stderr line", label);
    check(strncmp(run.err, "pinfer: ", 8) == 0 && one_line, name,
          "stderr '%s', expected one line starting with 'pinfer: '", run.err);

    snprintf(name, sizeof name, "cli %s stdout empty", label);
    check(run.out[0] == 0, name, "stdout '%s', expected nothing", run.out);

    snprintf(name, sizeof name, "cli %s no sanitizer report", label);
    check(!strstr(run.err, "AddressSanitizer") && !strstr(run.err, "LeakSanitizer") &&
              !strstr(run.err, "runtime error"),
          name, "stderr '%s', expected no sanitizer report", run.err);

    free_run(&run);
}

/* Writes each broken file of test_gguf.c into dir and runs the CLI on it. */
static void test_broken_files(const char *dir)
{
    gguf_writer w;
    const char *case_name, *expected;
    char path[4096], file[64], label[128];
    char *argv[] = {NULL, "-m", path, "-p", "Once upon a time", "-n", "4", NULL};
    size_t i;

    argv[0] = (char *)cli_path();
    gguf_writer_init(&w);
    for (i = 0; gguf_broken_case(i, &w, &case_name, &expected); i++) {
        snprintf(file, sizeof file, "broken-%02zu.gguf", i);
        snprintf(path, sizeof path, "%s/%s", dir, file);
        snprintf(label, sizeof label, "broken %s", case_name);
        if (gguf_writer_save(&w, path) != 0) {
            check(0, label, "cannot write %s: %s", path, strerror(errno));
            continue;
        }
        expect_failure(dir, label, argv, file, expected);
        unlink(path);
    }
    gguf_writer_free(&w);
}

static void test_bad_command_lines(const char *dir)
{
    char missing[4096], model_dir[4096];
    char *cli = (char *)cli_path();

    snprintf(missing, sizeof missing, "%s/missing.gguf", dir);
    {
        char *argv[] = {cli, "-m", missing, "-p", "hello", NULL};
        expect_failure(dir, "missing model file", argv, missing, strerror(ENOENT));
    }

    snprintf(model_dir, sizeof model_dir, "%s/model-dir", dir);
    if (mkdir(model_dir, 0700) != 0) {
        check(0, "cli directory as model", "cannot create %s: %s", model_dir, strerror(errno));
    } else {
        char *argv[] = {cli, "-m", model_dir, "-p", "hello", NULL};
        expect_failure(dir, "directory as model", argv, model_dir, "is a directory");
        rmdir(model_dir);
    }

    {
        char *argv[] = {cli, "-p", "hello", NULL};
        expect_failure(dir, "no -m", argv, "-m", "model");
    }
    {
        char *argv[] = {cli, "--no-such-flag", "-m", missing, "-p", "hello", NULL};
        expect_failure(dir, "unknown flag", argv, "'--no-such-flag'", "unknown");
    }
    {
        char *argv[] = {cli, "-p", "hello", "-m", NULL};
        expect_failure(dir, "-m without value", argv, "-m", "value");
    }
    {
        char *argv[] = {cli, "-m", missing, "-p", "hello", "-n", "many", NULL};
        expect_failure(dir, "-n not a number", argv, "-n", "'many'");
    }
}

/* Writes n bytes to dir/name and returns the path in a static buffer, or NULL. */
static const char *write_temp(const char *dir, const char *name, const char *bytes, size_t n)
{
    static char path[4096];
    FILE *fp;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    fp = fopen(path, "wb");
    if (!fp)
        return NULL;
    if (fwrite(bytes, 1, n, fp) != n) {
        fclose(fp);
        return NULL;
    }
    fclose(fp);
    return path;
}

/* Runs the CLI and expects exit status 0 with a "# prompt:" statistics line on stderr. */
static void expect_success(const char *dir, const char *label, char *const argv[], int expect_empty_stdout)
{
    struct cli_run run;
    char name[160];

    snprintf(name, sizeof name, "cli %s succeeds", label);
    if (run_cli(dir, argv, &run) != 0) {
        check(0, name, "cannot run %s or read its output", argv[0]);
        free_run(&run);
        return;
    }
    check(run.exited && run.exit_status == 0 && strstr(run.err, "# prompt:") != NULL, name,
          "exit %d (signal %d), stderr '%s'", run.exit_status, run.signal, run.err);
    if (expect_empty_stdout) {
        snprintf(name, sizeof name, "cli %s stdout empty", label);
        check(run.out[0] == 0, name, "stdout '%s', expected nothing", run.out);
    }
    free_run(&run);
}

/* Prompts and flags a user may get wrong or push to extremes: each has a clear message or a normal run. */
static void test_hostile_inputs(const char *dir)
{
    char *cli = (char *)cli_path();
    char model[4096], prompt_path[4096];
    static char big[1 << 20];
    const char *path;
    size_t i;

    snprintf(model, sizeof model, "%s", shared_path("models/stories260K.gguf"));

    path = write_temp(dir, "invalid-utf8.txt", "\xff\xfe Once \xc3 upon \xe2\x82", 16);
    if (path) {
        char *argv[] = {cli, "-m", model, "-f", (char *)path, "-n", "8", "--temp", "0", "--no-display-prompt", NULL};
        snprintf(prompt_path, sizeof prompt_path, "%s", path);
        argv[4] = prompt_path;
        expect_success(dir, "invalid UTF-8 prompt", argv, 0);
    }
    path = write_temp(dir, "nul.txt", "Once\0upon\0a time", 16);
    if (path) {
        char *argv[] = {cli, "-m", model, "-f", NULL, "-n", "8", "--temp", "0", "--no-display-prompt", NULL};
        snprintf(prompt_path, sizeof prompt_path, "%s", path);
        argv[4] = prompt_path;
        expect_success(dir, "NUL bytes in prompt", argv, 0);
    }
    {
        char *argv[] = {cli, "-m", model, "-p", "Once upon a time", "-n", "0", "--no-display-prompt", NULL};
        expect_success(dir, "-n 0", argv, 1);
    }
    {
        char *argv[] = {cli, "-m", model, "-p", "Once", "-n", "4", "--temp", "100000", NULL};
        expect_success(dir, "very high temperature", argv, 0);
    }
    {
        char *argv[] = {cli, "-m", model, "-p", "Once", "-n", "4", "--temp", "0", "--no-mmap", "--mlock", NULL};
        expect_success(dir, "--no-mmap --mlock", argv, 0);
    }

    for (i = 0; i < sizeof big; i++)
        big[i] = "hello world "[i % 12];
    path = write_temp(dir, "big.txt", big, sizeof big);
    if (path) {
        char *argv[] = {cli, "-m", model, "-f", NULL, "-n", "1", NULL};
        snprintf(prompt_path, sizeof prompt_path, "%s", path);
        argv[4] = prompt_path;
        expect_failure(dir, "1 MiB prompt", argv, "the prompt has", "at most 2048");
    }
    {
        char *argv[] = {cli, "-m", model, "-p", "Once upon a time", "-c", "1", NULL};
        expect_failure(dir, "-c 1", argv, "-c", "context holds 1");
    }
    {
        char *argv[] = {cli, "-m", model, "-p", "Once", "-c", "999999", NULL};
        expect_failure(dir, "-c over training", argv, "-c 2048", "trained for 2048");
    }
    {
        char *argv[] = {cli, "-m", model, "-f", (char *)dir, NULL};
        expect_failure(dir, "directory as prompt file", argv, dir, "is a directory");
    }
    {
        static const char *const bad[][2] = {
            {"--temp", "-1"},  {"--top-p", "2"},  {"--min-p", "nan"}, {"--top-k", "-5"},
            {"--repeat-penalty", "0"}, {"-n", "-5"}, {"-t", "0"}, {"-s", "-3"}, {"--temp", "1e300"},
        };
        for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            char label[64];
            char *argv[] = {cli, "-m", model, "-p", "Once", (char *)bad[i][0], (char *)bad[i][1], NULL};
            snprintf(label, sizeof label, "%s %s", bad[i][0], bad[i][1]);
            expect_failure(dir, label, argv, bad[i][0], "invalid value");
        }
    }
}

/*
 * Truncates a copy of the model while the CLI generates from it: the mapped
 * pages past the new end raise SIGBUS, which the CLI turns into a message.
 */
static void test_shrinking_model(const char *dir)
{
    char copy[4096], err_path[4096];
    char *model_bytes, *err_text;
    size_t n;
    pid_t pid;
    int status = 0;
    const char *path;

    model_bytes = read_file(shared_path("models/stories260K.gguf"), &n);
    path = model_bytes ? write_temp(dir, "shrinking.gguf", model_bytes, n) : NULL;
    free(model_bytes);
    if (!path) {
        check(0, "cli shrinking model", "cannot copy the model into %s", dir);
        return;
    }
    snprintf(copy, sizeof copy, "%s", path);
    snprintf(err_path, sizeof err_path, "%s/shrink-stderr.txt", dir);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        if (redirect(1, "/dev/null", O_WRONLY) != 0 || redirect(2, err_path, O_WRONLY | O_CREAT | O_TRUNC) != 0)
            _exit(126);
        alarm(CLI_TIMEOUT_S);
        execl(cli_path(), cli_path(), "-m", copy, "-p", "Once", "-n", "-1", "-c", "2048", "--temp", "0", "-t", "1",
              (char *)NULL);
        _exit(127);
    }
    {
        /* generating 2048 tokens takes seconds, so the child is mid-run after 0.3 s */
        struct timespec pause = {0, 300 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if (truncate(copy, 1000) != 0)
        check(0, "cli shrinking model", "truncate failed: %s", strerror(errno));
    waitpid(pid, &status, 0);
    err_text = read_file(err_path, NULL);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 1 && err_text && strstr(err_text, "shrank") != NULL,
          "cli shrinking model", "exit %d (signal %d), stderr '%s'", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
          WIFSIGNALED(status) ? WTERMSIG(status) : 0, err_text ? err_text : "");
    free(err_text);
    unlink(err_path);
    unlink(copy);
}

/*
 * Runs the CLI under an address-space limit (ulimit -v) smaller than model
 * plus context: it must refuse before allocating, with the numbers. Skipped
 * under AddressSanitizer, whose shadow memory cannot live under such a limit.
 */
static void test_memory_limit(const char *dir)
{
    char err_path[4096], model[4096];
    char *err_text;
    pid_t pid;
    int status = 0;

    if (getenv("ASAN_OPTIONS")) {
        printf("# cli memory limit: skipped under AddressSanitizer\n");
        return;
    }
    snprintf(model, sizeof model, "%s", shared_path("models/llama3-tiny-q3kl.gguf"));
    snprintf(err_path, sizeof err_path, "%s/limit-stderr.txt", dir);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        struct rlimit limit = {150u << 20, 150u << 20}; /* model 47 MiB + a 131072-token context 130 MiB */
        if (redirect(1, "/dev/null", O_WRONLY) != 0 || redirect(2, err_path, O_WRONLY | O_CREAT | O_TRUNC) != 0 ||
            setrlimit(RLIMIT_AS, &limit) != 0)
            _exit(126);
        alarm(CLI_TIMEOUT_S);
        execl(cli_path(), cli_path(), "-m", model, "-p", "hi", "-c", "131072", "-n", "1", "-t", "1", (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    err_text = read_file(err_path, NULL);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 1 && err_text && strstr(err_text, "a context of 131072 tokens") != NULL &&
              strstr(err_text, "may use 150.0 MiB") != NULL,
          "cli memory limit", "exit %d, stderr '%s', expected a refusal naming the context and the 150.0 MiB allowed",
          WIFEXITED(status) ? WEXITSTATUS(status) : -1, err_text ? err_text : "");
    free(err_text);
    unlink(err_path);
}

/* Runs the CLI to completion and returns its peak resident set in KiB, or -1. */
static long peak_rss_kib(const char *n_predict)
{
    char model[4096];
    struct rusage usage;
    pid_t pid;
    int status = 0;

    snprintf(model, sizeof model, "%s", shared_path("models/stories260K.gguf"));
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        if (redirect(1, "/dev/null", O_WRONLY) != 0 || redirect(2, "/dev/null", O_WRONLY) != 0)
            _exit(126);
        alarm(CLI_TIMEOUT_S);
        execl(cli_path(), cli_path(), "-m", model, "-p", "Once", "-n", n_predict, "-c", "2048", "--temp", "0",
              "-t", "1", (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || wait4(pid, &status, 0, &usage) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return usage.ru_maxrss;
}

/*
 * Memory is allocated once for the context: generating 2000 tokens may touch
 * more of the KV cache than 100 tokens do (5 layers x 2048 positions x 64
 * F16 values = 1.25 MiB for this model), and nothing else may grow.
 */
static void test_memory_flat(void)
{
    long short_run, long_run;

    if (getenv("ASAN_OPTIONS")) {
        printf("# cli memory flat: skipped under AddressSanitizer, whose allocator keeps freed memory\n");
        return;
    }
    short_run = peak_rss_kib("100");
    long_run = peak_rss_kib("2000");
    check(short_run > 0 && long_run > 0 && long_run - short_run <= 1280 + 1024, "cli memory flat",
          "peak RSS %ld KiB after 100 tokens, %ld KiB after 2000; growth allowed: the 1280 KiB KV cache + 1024 KiB",
          short_run, long_run);
}

static void remove_temp_files(const char *dir)
{
    static const char *const names[] = {"invalid-utf8.txt", "nul.txt", "big.txt"};
    char path[4096];
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
}

void test_cli(void)
{
    const char *tmp = getenv("TMPDIR");
    char dir[1024]; /* short enough that every path built under it fits in 4096 bytes */

    if (access(cli_path(), X_OK) != 0) {
        check(0, "cli binary present", "cannot execute %s: %s (build it with make, or set PINFER_CLI)", cli_path(),
              strerror(errno));
        return;
    }
    check(1, "cli binary present", "%s is executable", cli_path());

    snprintf(dir, sizeof dir, "%s/pinfer-cli-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        check(0, "cli temporary directory", "mkdtemp(%s) failed: %s", dir, strerror(errno));
        return;
    }
    test_broken_files(dir);
    test_bad_command_lines(dir);
    test_hostile_inputs(dir);
    test_shrinking_model(dir);
    test_memory_limit(dir);
    test_memory_flat();
    remove_temp_files(dir);
    if (rmdir(dir) != 0)
        check(0, "cli temporary directory removed", "rmdir(%s) failed: %s", dir, strerror(errno));
}
