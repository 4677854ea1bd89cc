/*
 * main.c - the pinfer command line for Linux and macOS.
 *
 * The platform layer under native/cli.c, which contains the flags, the
 * generation loop and the statistics: maps the model file read-only and
 * leaves memory limits to malloc.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* Maps the file read-only; an empty file maps nothing and keeps bytes NULL. */
int cli_platform_load_model(const char *path, cli_model_file *v)
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
    if (v->n_bytes > 0) {
        v->bytes = mmap(NULL, v->n_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
        if (v->bytes == MAP_FAILED) {
            close(fd);
            v->bytes = NULL;
            return cli_fail("%s: cannot map the file: %s", path, strerror(errno));
        }
        v->owned = 1;
    }
    close(fd);
    return 0;
}

void cli_platform_unload_model(cli_model_file *v)
{
    if (v->owned)
        munmap(v->bytes, v->n_bytes);
}

int cli_platform_check_context(const char *path, const llm_model *model, uint32_t n_ctx)
{
    (void)path;
    (void)model;
    (void)n_ctx;
    return 0;
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
