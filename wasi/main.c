/*
 * main.c - the pinfer command line as a WASI command (wasm32-wasi).
 *
 * The platform layer under native/cli.c, which contains the flags, the
 * generation loop and the statistics, so pinfer.wasm behaves as the native
 * pinfer does. WASI has no mmap, so this file reads the model through a
 * preopened directory into one malloc'd buffer, 16 MiB at a time. wasm32
 * memory ends at 4 GiB, so it checks the file, and then the KV cache and
 * scratch, against what memory can still grow to, and names the numbers
 * when a model cannot fit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define READ_CHUNK_BYTES (16u << 20)
#define PROGRESS_MIN_BYTES (64ull << 20) /* files this large get progress lines */
#define WASM_PAGE_BYTES 65536ull
#define WASM32_MAX_BYTES (65536ull * WASM_PAGE_BYTES) /* 4 GiB; the Makefile links with --max-memory of this */

/* Room the CLI needs besides the model and context: prompt tokens, sampler, malloc overhead (an estimate). */
#define OTHER_BYTES_ESTIMATE (16ull << 20)

static double mib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

static double gib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0 * 1024.0);
}

/* Bytes linear memory has now; it can grow by WASM32_MAX_BYTES minus this. */
static uint64_t memory_in_use(void)
{
    return (uint64_t)__builtin_wasm_memory_size(0) * WASM_PAGE_BYTES;
}

/* The directory part of path, for the --dir hint: "." for a bare file name. */
static void directory_of(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) : 0;

    if (!slash) {
        snprintf(dir, cap, ".");
        return;
    }
    if (len == 0)
        len = 1; /* "/model.gguf" lives in "/" */
    snprintf(dir, cap, "%.*s", (int)len, path);
}

/*
 * wasi-libc reports ENOTCAPABLE when no preopened directory contains the
 * path, which usually means the runtime was started without --dir. flag is
 * the option that named the file ("-m"), or NULL.
 */
static int explain_unreachable(const char *path, int err, const char *flag)
{
    char dir[1024], example[1200];

    if (err != ENOTCAPABLE)
        return 0;
    directory_of(path, dir, sizeof dir);
    if (flag)
        snprintf(example, sizeof example, "--dir %s build/pinfer.wasm %s %s ...", dir, flag, path);
    else
        snprintf(example, sizeof example, "--dir %s build/pinfer.wasm ...", dir);
    fprintf(stderr,
            "pinfer: cannot open '%s': no such file in the directories this WASI module can see; run it with "
            "`wasmtime run %s` or `node wasi/run_node.mjs %s`\n",
            path, example, example);
    return 1;
}

int cli_platform_explain_open_error(const char *path, int err)
{
    return explain_unreachable(path, err, NULL);
}

/* Rejects a file that cannot fit in wasm32 memory even before a context is added. */
static int check_file_fits(const char *path, uint64_t file_bytes)
{
    uint64_t in_use = memory_in_use();
    uint64_t room = WASM32_MAX_BYTES - in_use;

    if (file_bytes + OTHER_BYTES_ESTIMATE <= room)
        return 0;
    fprintf(stderr,
            "pinfer: %s: the model has %.2f GiB but at most %.2f GiB of wasm32 memory is left for it (4 GiB in all, "
            "%.1f MiB in use, %.0f MiB kept for the CLI), before the KV cache and scratch; use a smaller "
            "quantization or a smaller model, or the native pinfer\n",
            path, gib(file_bytes), gib(room > OTHER_BYTES_ESTIMATE ? room - OTHER_BYTES_ESTIMATE : 0), mib(in_use),
            mib(OTHER_BYTES_ESTIMATE));
    return 1;
}

/* Prints "# reading" progress at each quarter of a large file. */
static void report_progress(const char *path, uint64_t done, uint64_t total, int *quarters_shown)
{
    int quarters = (int)(done * 4 / total);

    if (total < PROGRESS_MIN_BYTES || quarters <= *quarters_shown)
        return;
    *quarters_shown = quarters;
    fprintf(stderr, "# reading %s: %d%% (%.0f of %.0f MiB)\n", path, quarters * 25, mib(done), mib(total));
}

/* Reads the whole file into one malloc'd buffer, in chunks of READ_CHUNK_BYTES. */
int cli_platform_load_model(const char *path, const cli_load_options *load, cli_model_file *file)
{
    struct stat st;
    uint64_t file_bytes, done = 0;
    int fd, quarters_shown = 0;

    (void)load; /* WASI has neither mmap nor mlock: the file is always read */
    memset(file, 0, sizeof *file);
    fd = open(path, O_RDONLY);
    if (fd < 0) {
        int err = errno;
        if (explain_unreachable(path, err, "-m"))
            return 1;
        return cli_fail("%s: cannot open: %s", path, strerror(err));
    }
    if (fstat(fd, &st) != 0) {
        close(fd);
        return cli_fail("%s: cannot read the file's status: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return cli_fail("%s: %s, expected a GGUF model file", path,
                        S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file");
    }
    file_bytes = (uint64_t)st.st_size;
    if (check_file_fits(path, file_bytes)) {
        close(fd);
        return 1;
    }
    if (file_bytes == 0) {
        close(fd);
        return 0;
    }
    file->bytes = malloc((size_t)file_bytes);
    if (!file->bytes) {
        close(fd);
        fprintf(stderr, "pinfer: %s: cannot allocate %.1f MiB for the model (%.1f MiB of wasm32 memory in use)\n", path,
                mib(file_bytes), mib(memory_in_use()));
        return 1;
    }
    file->n_bytes = (size_t)file_bytes;
    file->owned = 1;
    while (done < file_bytes) {
        uint64_t want = file_bytes - done < READ_CHUNK_BYTES ? file_bytes - done : READ_CHUNK_BYTES;
        ssize_t got = read(fd, (char *)file->bytes + done, (size_t)want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int err = errno;
            close(fd);
            fprintf(stderr, "pinfer: %s: read failed at byte %llu: %s\n", path, (unsigned long long)done,
                    strerror(err));
            return 1;
        }
        if (got == 0) {
            close(fd);
            fprintf(stderr, "pinfer: %s: the file ended at byte %llu but its size is %llu bytes (did it change while being read?)\n",
                    path, (unsigned long long)done, (unsigned long long)file_bytes);
            return 1;
        }
        done += (uint64_t)got;
        report_progress(path, done, file_bytes, &quarters_shown);
    }
    close(fd);
    return 0;
}

void cli_platform_unload_model(cli_model_file *file)
{
    if (file->owned)
        free(file->bytes);
}

/* Largest n_ctx at or below n_ctx whose context fits in room bytes, or 0 when none does. */
static uint32_t largest_context_within(const llm_model *model, uint32_t n_ctx, uint64_t room)
{
    uint32_t low = 0, high = n_ctx;

    while (low < high) {
        uint32_t mid = low + (high - low + 1) / 2;
        if (llm_ctx_bytes(model, mid) <= room)
            low = mid;
        else
            high = mid - 1;
    }
    return low;
}

int cli_platform_check_context(const char *path, const llm_model *model, uint32_t n_ctx)
{
    uint64_t in_use = memory_in_use();
    uint64_t room = WASM32_MAX_BYTES - in_use;
    uint64_t limit = room > OTHER_BYTES_ESTIMATE ? room - OTHER_BYTES_ESTIMATE : 0;
    uint64_t need;
    uint32_t fits;

    /* llm_ctx_new rejects these two cases itself, with the training context or the size in its message. */
    if (n_ctx > llm_model_hparams(model)->n_ctx_train || n_ctx == 0)
        return 0;
    /* It also rejects a context over SIZE_MAX / 2 bytes, 2 GiB on wasm32, so that bounds the budget too. */
    if (limit > (uint64_t)SIZE_MAX / 2)
        limit = (uint64_t)SIZE_MAX / 2;
    need = llm_ctx_bytes(model, n_ctx);
    if (need <= limit)
        return 0;
    fits = largest_context_within(model, n_ctx, limit);
    fprintf(stderr,
            "pinfer: %s: a context of %u tokens needs %.1f MiB for the KV cache and scratch, but pinfer.wasm can "
            "give it at most %.1f MiB (wasm32 memory ends at 4 GiB, %.1f MiB is in use with the model, and one "
            "context may take at most 2 GiB); ",
            path, n_ctx, mib(need), mib(limit), mib(in_use));
    if (fits > 0)
        fprintf(stderr, "use -c %u or less, or a smaller quantization\n", fits);
    else
        fprintf(stderr, "use a smaller quantization or a smaller model\n");
    return 1;
}

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
