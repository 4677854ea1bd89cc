/*
 * fuzz_vocab.c - libFuzzer target: any bytes as text for the three fixture
 * vocabularies (Llama 3 BPE, Llama 2 SentencePiece, stories260K).
 *
 * The first input byte picks the vocabulary and whether special tokens are
 * parsed; the rest is the text. Tokenizing must never fail or go out of
 * bounds. For valid UTF-8 without special-token parsing, the pieces of the
 * tokens must give the text back (SentencePiece adds one leading space and
 * writes U+2581 as a space, so such texts are skipped for it).
 * The vocabularies are read from ${PINFER_SHARED:-../shared}/models.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "vocab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const vocab_files[] = {
    "llama3-tiny-q3kl.gguf",
    "llama2-vocab-tiny-random.gguf",
    "stories260K.gguf",
};
#define N_VOCABS 3

static llm_vocab *vocabs[N_VOCABS];
static int is_spm[N_VOCABS] = {0, 1, 1};

static void *read_whole(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long size;

    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)size);
    if (buf && fread(buf, 1, (size_t)size, fp) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    *n = (size_t)size;
    return buf;
}

/* Loads the vocabularies once; the files and their parsed headers stay alive for the whole process. */
static void load_vocabs(void)
{
    const char *root = getenv("PINFER_SHARED");
    char path[4096];
    int i;

    static gguf_file files[N_VOCABS];

    for (i = 0; i < N_VOCABS; i++) {
        gguf_file *f = &files[i];
        llm_error err;
        size_t n;
        void *bytes;

        snprintf(path, sizeof path, "%s/models/%s", root && *root ? root : "../shared", vocab_files[i]);
        bytes = read_whole(path, &n);
        if (!bytes || gguf_open(f, bytes, n, vocab_files[i], &err) != LLM_OK) {
            fprintf(stderr, "fuzz_vocab: cannot read %s (set PINFER_SHARED to the fixtures folder)\n", path);
            abort();
        }
        vocabs[i] = llm_vocab_open(f, &err);
        if (!vocabs[i]) {
            fprintf(stderr, "fuzz_vocab: %s\n", err.message);
            abort();
        }
    }
}

static int valid_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0, len, k;

    while (i < n) {
        uint32_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xf0 && c < 0xf5)
            len = 4;
        else if (c >= 0xe0 && c < 0xf0)
            len = 3;
        else if (c >= 0xc2 && c < 0xe0)
            len = 2;
        else
            len = 0;
        if (len == 0 || i + len > n)
            return 0;
        c &= 0x3f >> (len - 1);
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            c = c << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c < 0xe000))) || (len == 4 && (c < 0x10000 || c > 0x10ffff)))
            return 0;
        i += len;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const llm_vocab *v;
    const char *text;
    int32_t *ids;
    char *decoded;
    int n, i, parse_special, which;
    size_t used = 0, cap, n_text;

    if (!vocabs[0])
        load_vocabs();
    if (size < 1)
        return 0;
    which = data[0] % N_VOCABS;
    parse_special = (data[0] / N_VOCABS) & 1;
    v = vocabs[which];
    text = (const char *)data + 1;
    n_text = size - 1;

    n = llm_tokenize(v, text, n_text, 0, parse_special, NULL, 0);
    if (n < 0)
        abort();
    ids = malloc(((size_t)n + 1) * sizeof *ids);
    if (llm_tokenize(v, text, n_text, 0, parse_special, ids, n) != n)
        abort();
    for (i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= llm_vocab_size(v))
            abort();
    }

    cap = n_text * 4 + 64;
    decoded = malloc(cap);
    for (i = 0; i < n; i++) {
        char piece[512];
        int len = llm_token_piece(v, ids[i], piece, (int)sizeof piece);
        if (len < 0 || len > (int)sizeof piece || used + (size_t)len > cap)
            abort();
        memcpy(decoded + used, piece, (size_t)len);
        used += (size_t)len;
    }
    if (!parse_special && valid_utf8(data + 1, n_text)) {
        if (is_spm[which]) {
            int has_marker = 0;
            for (i = 0; i + 2 < (int)n_text && !has_marker; i++)
                has_marker = memcmp(text + i, "\xe2\x96\x81", 3) == 0;
            /* Empty text gives no tokens; otherwise one space is prepended. */
            if (!has_marker && n_text > 0 && (used != n_text + 1 || decoded[0] != ' ' ||
                                              memcmp(decoded + 1, text, n_text) != 0))
                abort();
        } else if (used != n_text || memcmp(decoded, text, n_text) != 0) {
            abort();
        }
    }
    free(decoded);
    free(ids);
    return 0;
}
