/*
 * test_vocab.c - the tokenizers against ids llama.cpp produced, the
 * detokenizer against the texts they came from, and broken vocabularies.
 *
 * Fixtures: reference/tokenizer/{llama3,llama2,stories}.jsonl (one text a
 * line, tokenized without BOS), llama.cpp's own Llama 3 vectors
 * ggml-vocab-llama-bpe.gguf.inp/.out, and the prompt_tokens and greedy_text of
 * every reference/generation/<model>.<prompt>.json. Broken vocabularies are built in memory
 * with gguf_writer, one per failure kind.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "gguf.h"
#include "gguf_writer.h"
#include "json.h"
#include "vocab.h"

/* ---- helpers ---- */

/* A model file in memory with its vocabulary. */
struct model {
    char name[256]; /* file name under models/, "" when nothing is loaded */
    void *bytes;
    size_t n_bytes;
    gguf_file file;
    llm_vocab *vocab;
    double load_ms; /* llm_vocab_open() alone */
};

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void unload_model(struct model *m)
{
    llm_vocab_close(m->vocab);
    if (m->bytes)
        gguf_close(&m->file);
    free(m->bytes);
    memset(m, 0, sizeof *m);
}

/* Loads models/<file_name> unless it is loaded already. Returns 1, or 0 after a failed check. */
static int load_model(struct model *m, const char *file_name)
{
    char relative[300];
    llm_error err;
    double start;

    if (m->vocab && strcmp(m->name, file_name) == 0)
        return 1;
    unload_model(m);
    snprintf(relative, sizeof relative, "models/%s", file_name);
    m->bytes = read_file(shared_path(relative), &m->n_bytes);
    if (!m->bytes) {
        check(0, "vocab model readable", "cannot read %s", shared_path(relative));
        return 0;
    }
    if (gguf_open(&m->file, m->bytes, m->n_bytes, file_name, &err) != LLM_OK) {
        check(0, "vocab model parses", "%s", err.message);
        free(m->bytes);
        m->bytes = NULL;
        return 0;
    }
    start = now_ms();
    m->vocab = llm_vocab_open(&m->file, &err);
    m->load_ms = now_ms() - start;
    if (!m->vocab) {
        check(0, "vocab opens", "%s: %s", file_name, err.message);
        unload_model(m);
        return 0;
    }
    snprintf(m->name, sizeof m->name, "%s", file_name);
    return 1;
}

/*
 * Tokenizes text into a malloc'd array, asking for the size first so that
 * every call also exercises max_out = 0. Returns the count, or -1.
 */
static int tokenize_alloc(const llm_vocab *v, const char *text, size_t n, int add_bos, int parse_special,
                          int32_t **ids)
{
    int need = llm_tokenize(v, text, n, add_bos, parse_special, NULL, 0), got;

    *ids = NULL;
    if (need < 0)
        return -1;
    *ids = malloc(((size_t)need + 1) * sizeof **ids);
    if (!*ids)
        return -1;
    got = llm_tokenize(v, text, n, add_bos, parse_special, *ids, need);
    return got == need ? got : -1;
}

/* Concatenates the pieces of ids into a malloc'd, NUL-terminated buffer. */
static char *detokenize(const llm_vocab *v, const int32_t *ids, size_t n_ids, size_t *len)
{
    size_t i, total = 0;
    char *text;

    for (i = 0; i < n_ids; i++)
        total += (size_t)llm_token_piece(v, ids[i], NULL, 0);
    text = malloc(total + 1);
    if (!text)
        return NULL;
    *len = 0;
    for (i = 0; i < n_ids; i++)
        *len += (size_t)llm_token_piece(v, ids[i], text + *len, (int)(total - *len));
    text[*len] = 0;
    return text;
}

/* Writes ids as "[1, 2, 3]" into buf, shortened with "..." when it does not fit. */
static const char *format_ids(const int32_t *ids, size_t n, char *buf, size_t cap)
{
    size_t i, o = 0;

    o += (size_t)snprintf(buf, cap, "[");
    for (i = 0; i < n && o + 16 < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%d", i ? ", " : "", ids[i]);
    snprintf(buf + o, cap - o, "%s]", i < n ? ", ..." : "");
    return buf;
}

/* Writes text as a C-escaped string of at most about cap bytes into buf. */
static const char *format_text(const char *s, size_t n, char *buf, size_t cap)
{
    size_t i, o = 0;

    buf[o++] = '"';
    for (i = 0; i < n && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(buf + o, cap - o, "\\%c", c);
        else if (c == '\n')
            o += (size_t)snprintf(buf + o, cap - o, "\\n");
        else if (c < 0x20 || c == 0x7F)
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    snprintf(buf + o, cap - o, "%s\"", i < n ? "..." : "");
    return buf;
}

/* Reads a JSON array of integers into a malloc'd array. Returns the count, or -1 if v is missing. */
static int json_ids(const json_value *v, int32_t **ids)
{
    size_t i, n = json_len(v);

    *ids = malloc((n + 1) * sizeof **ids);
    if (!*ids || !v)
        return -1;
    for (i = 0; i < n; i++)
        (*ids)[i] = (int32_t)json_number(json_at(v, i));
    return (int)n;
}

static int same_ids(const int32_t *a, int n_a, const int32_t *b, int n_b)
{
    return n_a == n_b && (n_a == 0 || memcmp(a, b, (size_t)n_a * sizeof *a) == 0);
}

/* 1 when one of the ids detokenizes to nothing (a control or unknown token). */
static int has_silent_token(const llm_vocab *v, const int32_t *ids, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (llm_token_piece(v, ids[i], NULL, 0) == 0)
            return 1;
    }
    return 0;
}

/*
 * The text a SentencePiece tokenization detokenizes to: the leading space
 * the tokenizer adds, and U+2581 read back as a space (SentencePiece writes
 * spaces as U+2581, so a U+2581 in the input cannot come back as itself).
 */
static char *spm_expected_text(const char *text, size_t n, size_t *len)
{
    char *out = malloc(n + 2);
    size_t i = 0, o = 0;

    if (!out)
        return NULL;
    if (n > 0)
        out[o++] = ' ';
    while (i < n) {
        if (n - i >= 3 && memcmp(text + i, "\xe2\x96\x81", 3) == 0) {
            out[o++] = ' ';
            i += 3;
        } else {
            out[o++] = text[i++];
        }
    }
    out[o] = 0;
    *len = o;
    return out;
}

/* ---- reference token ids, one JSON object a line ---- */

struct jsonl_counts {
    int lines, matched, round_trips, skipped_detok, skipped_without_special;
};

static void check_jsonl_line(const llm_vocab *v, const char *file, size_t line_no, const char *line, size_t len,
                             int is_spm, struct jsonl_counts *counts)
{
    char name[128], text_buf[200], want_buf[300], got_buf[300];
    json_value *doc = json_parse(line, len);
    const json_value *special = json_get(doc, "parse_special");
    const char *text;
    size_t text_len, decoded_len, expected_len;
    int32_t *want = NULL, *got = NULL;
    int n_want, n_got, parse_special, ok;
    char *decoded, *expected;

    snprintf(name, sizeof name, "%s line %zu", file, line_no);
    text = json_string(json_get(doc, "text"), &text_len);
    n_want = json_ids(json_get(doc, "ids"), &want);
    if (!doc || !text || !special || n_want < 0) {
        check(0, name, "not an object with text, parse_special and ids");
        json_free(doc);
        free(want);
        return;
    }
    parse_special = json_number(special) != 0;
    counts->lines++;

    n_got = tokenize_alloc(v, text, text_len, 0, parse_special, &got);
    ok = n_got >= 0 && same_ids(want, n_want, got, n_got);
    counts->matched += ok;
    check(ok, name, "text %s (parse_special %d): ids %s, expected %s",
          format_text(text, text_len, text_buf, sizeof text_buf), parse_special,
          n_got < 0 ? "(tokenize failed)" : format_ids(got, (size_t)n_got, got_buf, sizeof got_buf),
          format_ids(want, (size_t)n_want, want_buf, sizeof want_buf));

    /* Detokenizing the reference ids gives the text back, unless a control token in them prints nothing. */
    if (has_silent_token(v, want, n_want)) {
        counts->skipped_detok++;
        counts->skipped_without_special += !parse_special;
    } else {
        decoded = detokenize(v, want, (size_t)n_want, &decoded_len);
        expected = is_spm ? spm_expected_text(text, text_len, &expected_len) : NULL;
        if (!is_spm) {
            expected = malloc(text_len + 1);
            if (expected)
                memcpy(expected, text, text_len + 1);
            expected_len = text_len;
        }
        ok = decoded && expected && decoded_len == expected_len && memcmp(decoded, expected, expected_len) == 0;
        counts->round_trips += ok;
        snprintf(name, sizeof name, "%s line %zu pieces", file, line_no);
        check(ok, name, "pieces give %s, expected %s",
              decoded ? format_text(decoded, decoded_len, got_buf, sizeof got_buf) : "(out of memory)",
              expected ? format_text(expected, expected_len, want_buf, sizeof want_buf) : "(out of memory)");
        free(decoded);
        free(expected);
    }
    free(want);
    free(got);
    json_free(doc);
}

static void test_jsonl(struct model *m, const char *model_file, const char *jsonl, int is_spm)
{
    char relative[200], name[128];
    struct jsonl_counts counts;
    size_t n, line_no = 0;
    char *data, *line, *end;

    if (!load_model(m, model_file))
        return;
    snprintf(relative, sizeof relative, "reference/tokenizer/%s", jsonl);
    data = read_file(shared_path(relative), &n);
    snprintf(name, sizeof name, "%s readable", jsonl);
    check(data != NULL, name, "cannot read %s", shared_path(relative));
    if (!data)
        return;
    memset(&counts, 0, sizeof counts);
    for (line = data; line < data + n; line = end + 1) {
        end = memchr(line, '\n', (size_t)(data + n - line));
        if (!end)
            end = data + n;
        line_no++;
        if (end > line)
            check_jsonl_line(m->vocab, jsonl, line_no, line, (size_t)(end - line), is_spm, &counts);
    }
    free(data);

    snprintf(name, sizeof name, "%s line count", jsonl);
    check(counts.lines == 1601, name, "%d lines, expected 1601", counts.lines);
    snprintf(name, sizeof name, "%s summary", jsonl);
    check(counts.matched == counts.lines, name,
          "%d of %d lines give the reference ids; %d round-trip through pieces, %d skipped for control tokens",
          counts.matched, counts.lines, counts.round_trips, counts.skipped_detok);
    snprintf(name, sizeof name, "%s skips only special", jsonl);
    check(counts.skipped_without_special == 0, name,
          "%d lines without parse_special skipped the round trip, expected 0", counts.skipped_without_special);
}

/* ---- llama.cpp's test-tokenizer-0 vectors for the Llama 3 vocabulary ---- */

#define VOCAB_TEST_SEPARATOR "\n__ggml_vocab_test__\n"

static void test_llama_bpe_vectors(struct model *m)
{
    size_t n_inp, n_out, sep_len = strlen(VOCAB_TEST_SEPARATOR);
    char *inp, *outp, *in_at, *out_at, *in_end, *out_end;
    char name[96], text_buf[200], want_buf[300], got_buf[300];
    int cases = 0;

    if (!load_model(m, "llama3-tiny-q3kl.gguf"))
        return;
    inp = read_file(shared_path("reference/tokenizer/ggml-vocab-llama-bpe.gguf.inp"), &n_inp);
    outp = read_file(shared_path("reference/tokenizer/ggml-vocab-llama-bpe.gguf.out"), &n_out);
    check(inp && outp, "llama-bpe vectors readable", "cannot read the .inp or .out file");
    if (!inp || !outp) {
        free(inp);
        free(outp);
        return;
    }

    /* Each input ends with the separator line, and the outputs have one line of ids per input. */
    for (in_at = inp, out_at = outp; in_at < inp + n_inp; in_at = in_end + sep_len, out_at = out_end + 1) {
        int32_t want[1024], *got = NULL;
        int n_want = 0, n_got;
        char *p;

        in_end = strstr(in_at, VOCAB_TEST_SEPARATOR);
        out_end = strchr(out_at, '\n');
        if (!in_end || !out_end)
            break;
        for (p = out_at; p < out_end && n_want < 1024;) {
            char *next;
            long id = strtol(p, &next, 10);
            if (next == p)
                break;
            want[n_want++] = (int32_t)id;
            p = next;
        }
        cases++;
        snprintf(name, sizeof name, "llama-bpe vector %d", cases);
        n_got = tokenize_alloc(m->vocab, in_at, (size_t)(in_end - in_at), 0, 0, &got);
        check(n_got >= 0 && same_ids(want, n_want, got, n_got), name, "text %s: ids %s, expected %s",
              format_text(in_at, (size_t)(in_end - in_at), text_buf, sizeof text_buf),
              n_got < 0 ? "(tokenize failed)" : format_ids(got, (size_t)n_got, got_buf, sizeof got_buf),
              format_ids(want, (size_t)n_want, want_buf, sizeof want_buf));
        free(got);
    }
    check(cases == 46, "llama-bpe vector count", "%d vectors, expected 46", cases);
    free(inp);
    free(outp);
}

/* ---- prompts and greedy text of the generation references ---- */

static void check_generation_file(const char *path, void *ctx)
{
    struct model *m = ctx;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    const char *dot = strchr(base, '.');
    char model_file[200], prompt[100], relative[200], name[200], want_buf[300], got_buf[300];
    char *json_text, *prompt_text, *decoded;
    size_t json_bytes, prompt_len, decoded_len, greedy_len;
    json_value *doc;
    int32_t *want = NULL, *got = NULL, *greedy = NULL;
    int n_want, n_got, n_greedy, parse_special;
    const char *greedy_text;

    if (!dot || strlen(dot) < 6)
        return;
    snprintf(model_file, sizeof model_file, "%.*s.gguf", (int)(dot - base), base);
    snprintf(prompt, sizeof prompt, "%.*s", (int)(strlen(dot + 1) - 5), dot + 1);
    if (!load_model(m, model_file))
        return;

    json_text = read_file(path, &json_bytes);
    doc = json_text ? json_parse(json_text, json_bytes) : NULL;
    free(json_text);
    snprintf(relative, sizeof relative, "reference/prompts/%s.txt", prompt);
    prompt_text = read_file(shared_path(relative), &prompt_len);
    snprintf(name, sizeof name, "%.*s fixtures readable", (int)(strlen(base) - 5), base);
    check(doc && prompt_text, name, "%s %s, %s %s", path, doc ? "parsed" : "is missing or not JSON",
          shared_path(relative), prompt_text ? "read" : "is missing");
    if (!doc || !prompt_text) {
        json_free(doc);
        free(prompt_text);
        return;
    }

    /*
     * The prompt file is the prompt byte for byte: chat-llama3 ends with the
     * "\n\n" after the assistant header (id 271 in the reference), the other
     * files have no trailing newline. Only chat-llama3 has special tokens
     * parsed; it starts with <|begin_of_text|>, so add_bos must not add a second.
     */
    parse_special = strcmp(prompt, "chat-llama3") == 0;
    n_want = json_ids(json_get(doc, "prompt_tokens"), &want);
    n_got = tokenize_alloc(m->vocab, prompt_text, prompt_len, 1, parse_special, &got);
    snprintf(name, sizeof name, "prompt %.*s", (int)(strlen(base) - 5), base);
    check(n_want >= 0 && n_got >= 0 && same_ids(want, n_want, got, n_got), name, "ids %s, expected %s",
          n_got < 0 ? "(tokenize failed)" : format_ids(got, (size_t)n_got, got_buf, sizeof got_buf),
          n_want < 0 ? "(no prompt_tokens)" : format_ids(want, (size_t)n_want, want_buf, sizeof want_buf));

    n_greedy = json_ids(json_get(doc, "greedy_tokens"), &greedy);
    greedy_text = json_string(json_get(doc, "greedy_text"), &greedy_len);
    decoded = n_greedy >= 0 ? detokenize(m->vocab, greedy, (size_t)n_greedy, &decoded_len) : NULL;
    snprintf(name, sizeof name, "greedy text %.*s", (int)(strlen(base) - 5), base);
    check(decoded && greedy_text && decoded_len == greedy_len && memcmp(decoded, greedy_text, greedy_len) == 0, name,
          "pieces of greedy_tokens give %s, expected %s",
          decoded ? format_text(decoded, decoded_len, got_buf, sizeof got_buf) : "(none)",
          greedy_text ? format_text(greedy_text, greedy_len, want_buf, sizeof want_buf) : "(none)");

    free(decoded);
    free(want);
    free(got);
    free(greedy);
    free(prompt_text);
    json_free(doc);
}

static void test_generation_prompts(struct model *m)
{
    char dir[4096];
    int n;

    /* A copy, because the callback calls shared_path(), which reuses its buffer. */
    snprintf(dir, sizeof dir, "%s", shared_path("reference/generation"));
    n = for_each_file(dir, ".json", check_generation_file, m);
    check(n > 0, "generation references found", "%d files in %s", n, dir);
}

/* ---- behaviour on the real vocabularies ---- */

static void check_tokens(const llm_vocab *v, const char *name, const char *text, size_t n, int add_bos,
                         int parse_special, const int32_t *want, int n_want)
{
    char want_buf[300], got_buf[300];
    int32_t *got;
    int n_got = tokenize_alloc(v, text, n, add_bos, parse_special, &got);

    check(n_got >= 0 && same_ids(want, n_want, got, n_got), name, "ids %s, expected %s",
          n_got < 0 ? "(tokenize failed)" : format_ids(got, (size_t)n_got, got_buf, sizeof got_buf),
          format_ids(want, (size_t)n_want, want_buf, sizeof want_buf));
    free(got);
}

static void test_llama3_behaviour(struct model *m)
{
    static const int32_t hello[] = {128000, 9906, 1917};
    static const int32_t bos_once[] = {128000, 6151};
    int32_t out[4] = {-7, -7, -7, -7}, *replacement = NULL, *invalid = NULL;
    int n, n_replacement, n_invalid;
    char piece[8] = "xxxxxxx";

    if (!load_model(m, "llama3-tiny-q3kl.gguf"))
        return;
    /* About 50 ms here (65 ms with ASan) on a 2-core x86-64 machine, gcc 12 -O2. The bound allows slow CI machines. */
    check(m->load_ms < 1000, "llama3 vocab load time", "%.1f ms for %d tokens, bound 1000 ms", m->load_ms,
          llm_vocab_size(m->vocab));
    check(llm_vocab_size(m->vocab) == 128256, "llama3 vocab size", "%d, expected 128256", llm_vocab_size(m->vocab));
    check(llm_vocab_bos(m->vocab) == 128000, "llama3 bos", "%d, expected 128000", llm_vocab_bos(m->vocab));
    check(llm_vocab_eos(m->vocab) == 128009, "llama3 eos", "%d, expected 128009", llm_vocab_eos(m->vocab));
    check(llm_vocab_is_eog(m->vocab, 128009), "llama3 eog eot_id", "<|eot_id|> 128009 does not end generation");
    check(llm_vocab_is_eog(m->vocab, 128008), "llama3 eog eom_id", "<|eom_id|> 128008 does not end generation");
    check(llm_vocab_is_eog(m->vocab, 128001), "llama3 eog end_of_text",
          "<|end_of_text|> 128001 does not end generation");
    check(!llm_vocab_is_eog(m->vocab, 128000), "llama3 bos not eog", "<|begin_of_text|> ends generation");
    check(!llm_vocab_is_eog(m->vocab, 9906), "llama3 word not eog", "'Hello' ends generation");
    check(!llm_vocab_is_eog(m->vocab, -1) && !llm_vocab_is_eog(m->vocab, 128256), "llama3 eog out of range",
          "an id outside the vocabulary ends generation");

    check_tokens(m->vocab, "llama3 add_bos", "Hello world", 11, 1, 0, hello, 3);
    check_tokens(m->vocab, "llama3 no double bos", "<|begin_of_text|>hi", 19, 1, 1, bos_once, 2);

    n = llm_tokenize(m->vocab, "Hello world", 11, 1, 0, out, 2);
    check(n == 3 && out[0] == 128000 && out[1] == 9906 && out[2] == -7, "llama3 max_out short",
          "returned %d, wrote %d %d %d; expected 3, then 128000 9906 and -7 untouched", n, out[0], out[1], out[2]);

    /* llama.cpp reads each invalid byte as U+FFFD before pre-tokenizing. */
    n_replacement = tokenize_alloc(m->vocab, "a\xef\xbf\xbd" "b", 5, 0, 0, &replacement);
    n_invalid = tokenize_alloc(m->vocab, "a\xff" "b", 3, 0, 0, &invalid);
    check(n_invalid > 0 && same_ids(replacement, n_replacement, invalid, n_invalid), "llama3 invalid utf8",
          "%d ids for a\\xffb, expected the %d ids of a U+FFFD b", n_invalid, n_replacement);
    free(replacement);
    free(invalid);

    n = llm_token_piece(m->vocab, 128009, piece, (int)sizeof piece);
    check(n == 0 && piece[0] == 'x', "llama3 control piece empty", "<|eot_id|> gave %d bytes, expected 0", n);
    n = llm_token_piece(m->vocab, 9906, piece, 2);
    check(n == 5 && memcmp(piece, "Hexxxxx", 7) == 0, "llama3 piece truncated",
          "returned %d and wrote '%.7s', expected 5 and 'Hexxxxx'", n, piece);
    n = llm_token_piece(m->vocab, 220, piece, (int)sizeof piece);
    check(n == 1 && piece[0] == ' ', "llama3 piece of space", "token 220 gave %d bytes '%.*s', expected ' '", n,
          n > 0 ? n : 0, piece);
}

static void test_spm_behaviour(struct model *m)
{
    static const int32_t bos_only[] = {1};
    char piece[8];
    int n;

    if (!load_model(m, "stories260K.gguf"))
        return;
    check(llm_vocab_bos(m->vocab) == 1 && llm_vocab_eos(m->vocab) == 2, "stories bos eos", "bos %d eos %d, expected 1 2",
          llm_vocab_bos(m->vocab), llm_vocab_eos(m->vocab));
    check(llm_vocab_is_eog(m->vocab, 2) && !llm_vocab_is_eog(m->vocab, 1), "stories eog", "</s> %d, <s> %d",
          llm_vocab_is_eog(m->vocab, 2), llm_vocab_is_eog(m->vocab, 1));
    check_tokens(m->vocab, "stories empty with bos", "", 0, 1, 0, bos_only, 1);
    check_tokens(m->vocab, "stories empty without bos", "", 0, 0, 0, NULL, 0);

    n = llm_token_piece(m->vocab, 1, piece, (int)sizeof piece);
    check(n == 0, "stories control piece empty", "<s> gave %d bytes, expected 0", n);
    n = llm_token_piece(m->vocab, 0, piece, (int)sizeof piece);
    check(n == 0, "stories unknown piece empty", "<unk> gave %d bytes, expected 0", n);
    n = llm_token_piece(m->vocab, 3 + 0x0A, piece, (int)sizeof piece);
    check(n == 1 && piece[0] == '\n', "stories byte piece", "<0x0A> gave %d bytes, expected one newline", n);
}

/* ---- small vocabularies built in memory ---- */

/* The metadata of one small vocabulary. A test changes one field to break it. */
struct vocab_spec {
    const char *model;       /* tokenizer.ggml.model, NULL to leave out */
    const char *pre;         /* tokenizer.ggml.pre, NULL to leave out */
    const char *const *tokens;
    uint64_t n_tokens;
    uint64_t n_scores;       /* 0 to leave scores out */
    float first_score;       /* written as the score of token 0 */
    uint64_t n_types;        /* 0 to leave token_type out */
    int32_t last_type;       /* written as the type of the last token */
    const char *const *merges;
    uint64_t n_merges;       /* merges are written when merges is not NULL */
    int tokens_as_int;       /* write tokenizer.ggml.tokens as an array of int32 */
    int bos_as_string;       /* write tokenizer.ggml.bos_token_id as a string */
    uint32_t bos;            /* tokenizer.ggml.bos_token_id unless bos_as_string is set */
    int add_bos_as_u32;      /* write tokenizer.ggml.add_bos_token as uint32 */
    int add_bos_false;       /* write tokenizer.ggml.add_bos_token as bool false */
};

static void build_vocab(gguf_writer *w, const struct vocab_spec *s)
{
    uint64_t n_kv = 2 + (s->model != NULL) + (s->pre != NULL) + (s->n_scores > 0) + (s->n_types > 0) +
                    (s->merges != NULL) + (s->add_bos_as_u32 != 0) + (s->add_bos_false != 0), i;

    gguf_writer_init(w);
    gguf_put_header(w, 3, 0, n_kv);
    if (s->model)
        gguf_put_kv_str(w, "tokenizer.ggml.model", s->model);
    if (s->pre)
        gguf_put_kv_str(w, "tokenizer.ggml.pre", s->pre);

    gguf_put_key(w, "tokenizer.ggml.tokens", GGUF_ARRAY);
    gguf_put_array(w, s->tokens_as_int ? GGUF_INT32 : GGUF_STRING, s->n_tokens);
    for (i = 0; i < s->n_tokens; i++) {
        if (s->tokens_as_int)
            gguf_put_u32(w, (uint32_t)i);
        else
            gguf_put_str(w, s->tokens[i]);
    }
    if (s->n_scores > 0) {
        gguf_put_key(w, "tokenizer.ggml.scores", GGUF_ARRAY);
        gguf_put_array(w, GGUF_FLOAT32, s->n_scores);
        for (i = 0; i < s->n_scores; i++)
            gguf_put_f32(w, i == 0 ? s->first_score : -(float)i);
    }
    if (s->n_types > 0) {
        gguf_put_key(w, "tokenizer.ggml.token_type", GGUF_ARRAY);
        gguf_put_array(w, GGUF_INT32, s->n_types);
        for (i = 0; i < s->n_types; i++)
            gguf_put_u32(w, (uint32_t)(i + 1 == s->n_types ? s->last_type : 1));
    }
    if (s->merges) {
        gguf_put_key(w, "tokenizer.ggml.merges", GGUF_ARRAY);
        gguf_put_array(w, GGUF_STRING, s->n_merges);
        for (i = 0; i < s->n_merges; i++)
            gguf_put_str(w, s->merges[i]);
    }
    if (s->bos_as_string)
        gguf_put_kv_str(w, "tokenizer.ggml.bos_token_id", "1");
    else
        gguf_put_kv_u32(w, "tokenizer.ggml.bos_token_id", s->bos);
    if (s->add_bos_as_u32)
        gguf_put_kv_u32(w, "tokenizer.ggml.add_bos_token", 1);
    if (s->add_bos_false) {
        gguf_put_key(w, "tokenizer.ggml.add_bos_token", GGUF_BOOL);
        gguf_put_u8(w, 0);
    }
    gguf_put_kv_str(w, "general.name", "tiny vocab");
}

/* Opens the vocabulary of a built file from an exact-size copy. Returns it, or NULL with err filled. */
static llm_vocab *open_built(const gguf_writer *w, llm_error *err, int *gguf_ok)
{
    uint8_t *copy = malloc(w->n_bytes);
    gguf_file f;
    llm_vocab *v = NULL;

    err->message[0] = 0;
    *gguf_ok = 0;
    if (!copy)
        return NULL;
    memcpy(copy, w->bytes, w->n_bytes);
    if (gguf_open(&f, copy, w->n_bytes, "tiny.gguf", err) == LLM_OK) {
        *gguf_ok = 1;
        v = llm_vocab_open(&f, err);
        gguf_close(&f);
    }
    free(copy);
    return v;
}

static const char *const spm_tokens[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81" "a", "a", "b", "\xff\xfe", "\xe2\x96"};
#define N_SPM_TOKENS (sizeof spm_tokens / sizeof spm_tokens[0])

static struct vocab_spec spm_spec(void)
{
    struct vocab_spec s;

    memset(&s, 0, sizeof s);
    s.model = "llama";
    s.tokens = spm_tokens;
    s.n_tokens = N_SPM_TOKENS;
    s.n_scores = N_SPM_TOKENS;
    s.n_types = N_SPM_TOKENS;
    s.last_type = 1;
    s.bos = 1;
    return s;
}

/* GPT-2 byte characters for 'a', 'b', ' ' (U+0120 'Ġ'), plus one token that is not valid UTF-8. */
static const char *const bpe_tokens[] = {"a", "b", "\xc4\xa0", "ab", "\xc4\xa0" "ab", "<|end|>", "\xc4"};
static const char *const bpe_merges[] = {"a b", "\xc4\xa0 ab"};

static struct vocab_spec bpe_spec(void)
{
    struct vocab_spec s;

    memset(&s, 0, sizeof s);
    s.model = "gpt2";
    s.pre = "llama-bpe";
    s.tokens = bpe_tokens;
    s.n_tokens = sizeof bpe_tokens / sizeof bpe_tokens[0];
    s.merges = bpe_merges;
    s.n_merges = 2;
    s.n_types = s.n_tokens;
    s.last_type = 1;
    s.bos = 0;
    return s;
}

static void check_broken(const char *name, const struct vocab_spec *s, const char *expected)
{
    gguf_writer w;
    llm_error err;
    llm_vocab *v;
    int gguf_ok;

    build_vocab(&w, s);
    v = open_built(&w, &err, &gguf_ok);
    check(gguf_ok && !v && strstr(err.message, expected) != NULL && strncmp(err.message, "tiny.gguf: ", 11) == 0,
          name, "%s; expected a vocabulary error naming the file and containing \"%s\"",
          v ? "opened" : (gguf_ok ? err.message : "the GGUF itself did not parse"), expected);
    llm_vocab_close(v);
    gguf_writer_free(&w);
}

static void test_broken_vocabularies(void)
{
    static const char *const duplicate[] = {"<unk>", "<s>", "a", "a"};
    static const char *const bad_byte[] = {"<unk>", "<s>", "<0xZZ>"};
    static const char *const no_space[] = {"ab"};
    struct vocab_spec s;

    s = spm_spec();
    s.n_scores = N_SPM_TOKENS - 1;
    check_broken("vocab broken scores length", &s, "scores has 7 entries but tokenizer.ggml.tokens has 8");

    s = spm_spec();
    s.n_types = N_SPM_TOKENS + 1;
    check_broken("vocab broken types length", &s, "token_type has 9 entries but tokenizer.ggml.tokens has 8");

    s = spm_spec();
    s.last_type = 9;
    check_broken("vocab broken type value", &s, "token_type[7] is 9, expected 0 to 6");

    s = spm_spec();
    s.first_score = 0.0f / 0.0f;
    check_broken("vocab broken score nan", &s, "scores[0] is NaN");

    s = spm_spec();
    s.tokens_as_int = 1;
    check_broken("vocab broken tokens type", &s, "'tokenizer.ggml.tokens' is an array of int32, expected");

    s = spm_spec();
    s.n_tokens = 0;
    s.n_scores = s.n_types = 0;
    check_broken("vocab broken no tokens", &s, "has 0 tokens");

    s = spm_spec();
    s.model = NULL;
    check_broken("vocab broken no model", &s, "'tokenizer.ggml.model' is missing");

    s = spm_spec();
    s.model = "bert";
    check_broken("vocab broken model name", &s, "tokenizer.ggml.model is 'bert'");

    s = spm_spec();
    s.bos = 8;
    check_broken("vocab broken bos range", &s, "'tokenizer.ggml.bos_token_id' is 8, expected a token id from 0 to 7");

    s = spm_spec();
    s.bos_as_string = 1;
    check_broken("vocab broken bos type", &s, "bos_token_id' has type string");

    s = spm_spec();
    s.add_bos_as_u32 = 1;
    check_broken("vocab broken add_bos type", &s, "add_bos_token' has type uint32, expected bool");

    s = spm_spec();
    s.tokens = duplicate;
    s.n_tokens = 4;
    s.n_scores = s.n_types = 0;
    check_broken("vocab broken duplicate token", &s, "has 'a' twice, as ids 2 and 3");

    s = spm_spec();
    s.tokens = bad_byte;
    s.n_tokens = 3;
    s.n_scores = 0;
    s.n_types = 3;
    s.last_type = 6;
    check_broken("vocab broken byte token", &s, "token 2 '<0xZZ>' has type BYTE");

    s = bpe_spec();
    s.pre = "qwen2";
    check_broken("vocab broken pre name", &s, "tokenizer.ggml.pre is 'qwen2'");

    s = bpe_spec();
    s.pre = NULL;
    check_broken("vocab broken pre missing", &s, "tokenizer.ggml.pre is missing");

    s = bpe_spec();
    s.merges = NULL;
    check_broken("vocab broken merges missing", &s, "'tokenizer.ggml.merges' is missing");

    s = bpe_spec();
    s.merges = no_space;
    s.n_merges = 1;
    check_broken("vocab broken merge form", &s, "merges[0] is 'ab', expected two tokens separated by a space");

    {
        static const char *const unknown_part[] = {"a b", "a zz"};
        s = bpe_spec();
        s.merges = unknown_part;
        s.n_merges = 2;
        check_broken("vocab broken merge token", &s, "merges[1] is 'a zz', which names a token not in the vocabulary");
    }
}

/* Tokenizes text with a built vocabulary, asking for BOS when add_bos is set, and compares the ids. */
static void check_built(const char *name, const struct vocab_spec *s, const char *text, int add_bos,
                        int parse_special, const int32_t *want, int n_want)
{
    gguf_writer w;
    llm_error err;
    llm_vocab *v;
    int gguf_ok;

    build_vocab(&w, s);
    v = open_built(&w, &err, &gguf_ok);
    if (!v)
        check(0, name, "the vocabulary did not open: %s", err.message);
    else
        check_tokens(v, name, text, strlen(text), add_bos, parse_special, want, n_want);
    llm_vocab_close(v);
    gguf_writer_free(&w);
}

/*
 * Token texts that are not valid UTF-8 and inputs that are not either, for
 * AddressSanitizer to watch: no read may pass the end of a token or the text.
 */
static void test_built_vocabularies(void)
{
    static const int32_t spm_ab[] = {3, 5};    /* "▁a" then "b", because there is no "▁ab" */
    static const int32_t spm_cut[] = {3, 7};   /* the cut-off character "\xe2\x96" is a token of its own */
    static const int32_t spm_unk[] = {3, 0};   /* no byte tokens, so the byte c3 falls back to <unk> */
    static const int32_t bpe_words[] = {3, 4}; /* "ab" and " ab" are whole tokens, so no merging */
    static const int32_t bpe_merged[] = {0, 3}; /* "aab" merges "a b" only */
    static const int32_t spm_bos_ab[] = {1, 3, 5};
    static const int32_t bpe_end[] = {0, 5, 1}; /* "<|end|>" ends generation, so it becomes CONTROL and is parsed */
    static const int32_t *bpe_end_text = NULL;  /* as text, "<|end|>" has no character this vocabulary has a token for */
    static const char invalid_text[] = "\xc4\xe2\x96\xf7\xbf\xbf\xbf a";
    struct vocab_spec s;
    gguf_writer w;
    llm_error err;
    llm_vocab *v;
    int gguf_ok, id, n;
    char piece[16];

    s = spm_spec();
    check_built("tiny spm merge", &s, "ab", 0, 0, spm_ab, 2);
    check_built("tiny spm cut character", &s, "a\xe2\x96", 0, 0, spm_cut, 2);
    check_built("tiny spm unk fallback", &s, "a\xc3", 0, 0, spm_unk, 2);
    check_built("tiny spm bos added", &s, "ab", 1, 0, spm_bos_ab, 3);
    s.add_bos_false = 1;
    check_built("tiny spm add_bos false", &s, "ab", 1, 0, spm_ab, 2);

    s = bpe_spec();
    check_built("tiny bpe whole words", &s, "ab ab", 0, 0, bpe_words, 2);
    check_built("tiny bpe merges", &s, "aab", 0, 0, bpe_merged, 2);
    check_built("tiny bpe control parsed", &s, "a<|end|>b", 0, 1, bpe_end, 3);
    check_built("tiny bpe control as text", &s, "<|end|>", 0, 0, bpe_end_text, 0);
    s.pre = "llama3";
    check_built("tiny bpe pre llama3", &s, "aab", 0, 0, bpe_merged, 2);

    build_vocab(&w, &s);
    v = open_built(&w, &err, &gguf_ok);
    check(v != NULL, "tiny bpe opens", "%s", v ? "opened" : err.message);
    if (v) {
        for (id = 0; id < llm_vocab_size(v); id++) {
            n = llm_token_piece(v, id, piece, (int)sizeof piece);
            check(n >= 0 && n <= (int)sizeof piece, "tiny bpe piece bounded", "token %d gave %d bytes", id, n);
        }
        n = llm_token_piece(v, 6, piece, (int)sizeof piece);
        check(n == 1 && (unsigned char)piece[0] == 0xC4, "tiny bpe invalid piece", "token 6 gave %d bytes, expected the raw byte c4", n);
        n = llm_tokenize(v, invalid_text, sizeof invalid_text - 1, 0, 0, NULL, 0);
        check(n >= 0, "tiny bpe invalid input", "returned %d", n);
        llm_vocab_close(v);
    }
    gguf_writer_free(&w);
}

void test_vocab(void)
{
    struct model m;

    memset(&m, 0, sizeof m);
    test_broken_vocabularies();
    test_built_vocabularies();
    test_llama3_behaviour(&m);
    test_jsonl(&m, "llama3-tiny-q3kl.gguf", "llama3.jsonl", 0);
    test_llama_bpe_vectors(&m);
    test_jsonl(&m, "llama2-vocab-tiny-random.gguf", "llama2.jsonl", 1);
    test_jsonl(&m, "stories260K.gguf", "stories.jsonl", 1);
    test_spm_behaviour(&m);
    test_generation_prompts(&m);
    unload_model(&m);
}
