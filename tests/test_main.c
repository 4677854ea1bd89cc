/*
 * test_main.c - runs every test suite and prints "N passed, N failed".
 *
 * Usage: run_tests [-v] [suite...]; with no suite named, all run.
 */
#include "check.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void test_gguf(void);
void test_quant(void);
void test_kernels(void);
void test_vocab(void);
void test_model(void);
void test_sampler(void);
void test_generation(void);
void test_cli(void);

static const struct {
    const char *name;
    void (*run)(void);
} suites[] = {
    {"gguf", test_gguf},
    {"quant", test_quant},
    {"kernels", test_kernels},
    {"vocab", test_vocab},
    {"model", test_model},
    {"sampler", test_sampler},
    {"generation", test_generation},
    {"cli", test_cli},
};

static int n_passed, n_failed, verbose;

void check(int ok, const char *name, const char *fmt, ...)
{
    va_list ap;

    if (ok)
        n_passed++;
    else
        n_failed++;
    if (ok && !verbose)
        return;
    printf("%s %s: ", ok ? "ok  " : "FAIL", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

const char *shared_path(const char *relative)
{
    static char path[4096];
    const char *root = getenv("PINFER_SHARED");

    snprintf(path, sizeof path, "%s/%s", root && *root ? root : "../shared", relative);
    return path;
}

void *read_file(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long size;

    if (!fp)
        return NULL;
    if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        return NULL;
    }
    buf = malloc((size_t)size + 1);
    if (buf && fread(buf, 1, (size_t)size, fp) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    if (!buf)
        return NULL;
    buf[size] = 0;
    if (n)
        *n = (size_t)size;
    return buf;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int for_each_file(const char *dir, const char *suffix, void (*fn)(const char *path, void *ctx), void *ctx)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, i, suffix_len = strlen(suffix);
    char path[4096];

    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < suffix_len || strcmp(e->d_name + len - suffix_len, suffix) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof *names);
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, compare_names);
    for (i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        fn(path, ctx);
        free(names[i]);
    }
    free(names);
    return (int)n;
}

int main(int argc, char **argv)
{
    size_t i;
    int a, named = 0;

    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "-v") == 0)
            verbose = 1;
        else
            named = 1;
    }
    {
        /* Every fixture-driven suite fails without the fixtures, so one check names the cause first. */
        DIR *d = opendir(shared_path("models"));
        check(d != NULL, "fixtures present",
              "%s is not a folder: set PINFER_SHARED to the folder that holds models/ and reference/", shared_path("models"));
        if (d)
            closedir(d);
    }
    for (i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        int run = !named;
        for (a = 1; a < argc && !run; a++)
            run = strcmp(argv[a], suites[i].name) == 0;
        if (!run)
            continue;
        printf("# suite %s\n", suites[i].name);
        fflush(stdout);
        suites[i].run();
    }
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed ? 1 : 0;
}
