/*
 * main.c - the pinfer command line for Linux and macOS.
 *
 * The platform layer under native/cli.c, which contains the flags, the
 * generation loop and the statistics. It maps the model file read-only (or
 * reads it with --no-mmap) and turns the SIGBUS of a mapped file that shrank
 * into a message. It also checks that model and context fit in memory before
 * the context is allocated.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static char sigbus_message[600];

/* Touching a page of a mapped file past its current end raises SIGBUS: the file shrank after it was mapped. */
static void on_sigbus(int sig)
{
    ssize_t ignored = write(2, sigbus_message, strlen(sigbus_message));
    (void)ignored;
    (void)sig;
    _exit(1);
}

static void catch_sigbus(const char *path)
{
    struct sigaction sa;

    snprintf(sigbus_message, sizeof sigbus_message,
             "pinfer: %s: the model file shrank while it was in use (was it truncated or rewritten?)\n", path);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}

static int model_is_mapped; /* 1: cli_model_file.bytes came from mmap, 0: from malloc */

/*
 * Reads the whole file into malloc'd memory in 64 MiB chunks. A read that
 * ends early means the file shrank after fstat measured it.
 */
static int read_whole_file(const char *path, int fd, cli_model_file *v)
{
    size_t done = 0;

    v->bytes = malloc(v->n_bytes);
    if (!v->bytes)
        return cli_fail("%s: cannot allocate memory to read the model; try without --no-mmap%s", path, "");
    while (done < v->n_bytes) {
        size_t want = v->n_bytes - done < ((size_t)64 << 20) ? v->n_bytes - done : ((size_t)64 << 20);
        ssize_t got = read(fd, (char *)v->bytes + done, want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            char sizes[160];
            snprintf(sizes, sizeof sizes, "read %zu of %zu bytes", done, v->n_bytes);
            free(v->bytes);
            v->bytes = NULL;
            if (got < 0)
                return cli_fail("%s: cannot read the file: %s", path, strerror(errno));
            return cli_fail("%s: the model file shrank while it was being read (%s)", path, sizes);
        }
        done += (size_t)got;
    }
    v->owned = 1;
    model_is_mapped = 0;
    return 0;
}

/* Maps the file read-only, or reads it with --no-mmap; an empty file loads nothing and keeps bytes NULL. */
int cli_platform_load_model(const char *path, const cli_load_options *load, cli_model_file *v)
{
    struct stat st;
    int fd;

    memset(v, 0, sizeof *v);
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return cli_fail("%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        close(fd);
        return cli_fail("%s: cannot read the file's status: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return cli_fail("%s: %s, expected a GGUF model file", path,
                        S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file");
    }
    v->n_bytes = (size_t)st.st_size;
    if (v->n_bytes > 0 && load->no_mmap) {
        int failed = read_whole_file(path, fd, v);
        close(fd);
        if (failed)
            return 1;
    } else if (v->n_bytes > 0) {
        v->bytes = mmap(NULL, v->n_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (v->bytes == MAP_FAILED) {
            v->bytes = NULL;
            return cli_fail("%s: cannot map the file: %s", path, strerror(errno));
        }
        v->owned = 1;
        model_is_mapped = 1;
        catch_sigbus(path);
    } else {
        close(fd);
    }
    if (load->mlock && v->n_bytes > 0 && mlock(v->bytes, v->n_bytes) != 0)
        return cli_fail("%s: --mlock could not lock the model in memory: %s (raise the limit with ulimit -l)", path,
                        strerror(errno));
    return 0;
}

void cli_platform_unload_model(cli_model_file *v)
{
    if (v->owned && model_is_mapped)
        munmap(v->bytes, v->n_bytes);
    else if (v->owned)
        free(v->bytes);
}

/* Bytes this process may use: physical memory, or less under an address-space limit (ulimit -v). */
static uint64_t memory_available(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    uint64_t bytes = pages > 0 && page_size > 0 ? (uint64_t)pages * (uint64_t)page_size : UINT64_MAX;
    struct rlimit limit;

    if (getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && (uint64_t)limit.rlim_cur < bytes)
        bytes = (uint64_t)limit.rlim_cur;
    return bytes;
}

int cli_platform_check_context(const char *path, const llm_model *model, uint32_t n_ctx)
{
    const gguf_file *f = llm_model_file(model);
    uint64_t model_bytes = f->n_bytes, ctx_bytes = llm_ctx_bytes(model, n_ctx), available = memory_available();
    char numbers[300];

    if (model_bytes + ctx_bytes <= available)
        return 0;
    snprintf(numbers, sizeof numbers,
             "the model (%.1f MiB) and a context of %u tokens (%.1f MiB) need %.1f MiB, but this process may use "
             "%.1f MiB",
             (double)model_bytes / 1048576.0, n_ctx, (double)ctx_bytes / 1048576.0,
             (double)(model_bytes + ctx_bytes) / 1048576.0, (double)available / 1048576.0);
    return cli_fail("%s: %s (use a smaller -c or a smaller quantization)", path, numbers);
}

int cli_platform_explain_open_error(const char *path, int err)
{
    (void)path;
    (void)err;
    return 0;
}

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
