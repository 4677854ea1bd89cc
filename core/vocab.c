/*
 * vocab.c - the SentencePiece and byte-level BPE tokenizers of llama.cpp,
 * rebuilt from tokenizer.ggml.* metadata, and the token-to-bytes map.
 *
 * Each step follows llama.cpp's src/llama-vocab.cpp and src/unicode.cpp
 * closely enough to give the same ids: the special-token split, the leading
 * space of SentencePiece, the merge order and tie-breaks, and the Llama 3
 * pre-tokenizer. tests/test_vocab.c compares ids with what llama.cpp build
 * 4748 produced.
 *
 * Every string read from the file is treated as bytes of known length, so
 * token texts that are not valid UTF-8 are never read past their end.
 */
#include "vocab.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unicode_data.h"

/* tokenizer.ggml.token_type values, as llama.cpp numbers them. */
enum token_type {
    TOKEN_UNDEFINED = 0,
    TOKEN_NORMAL = 1,
    TOKEN_UNKNOWN = 2,
    TOKEN_CONTROL = 3,
    TOKEN_USER_DEFINED = 4,
    TOKEN_UNUSED = 5,
    TOKEN_BYTE = 6,
    TOKEN_TYPE_COUNT
};

enum vocab_kind { VOCAB_SPM, VOCAB_BPE };

struct token {
    uint32_t offset; /* into llm_vocab.text */
    uint32_t len;
    float score; /* SentencePiece merge priority: the pair forming the higher score merges first */
    uint8_t type; /* enum token_type */
};

/* A BPE merge "left right", stored as in the file with the space between. */
struct merge {
    uint32_t offset; /* into llm_vocab.merge_text */
    uint32_t left_len;
    uint32_t right_len;
};

#define BYTE_UNICODE_END 0x144 /* one past the largest code point of the byte-to-unicode map */

/* Both directions of the byte-level BPE byte-to-unicode map (see byte_to_unicode). */
struct byte_map {
    char utf8[256][2]; /* UTF-8 of each byte's character */
    uint8_t utf8_len[256];
    int16_t byte_of[BYTE_UNICODE_END]; /* code point -> byte, -1 outside the map */
};

/* Open-addressing hash set of ids. The key of an id (a token text or a merge) lives in the vocabulary's tables. */
struct hash_index {
    int32_t *slots; /* -1 = empty */
    uint32_t *hashes;
    uint32_t mask;
};

struct llm_vocab {
    enum vocab_kind kind;
    int32_t n_tokens;
    struct token *tokens;  /* [n_tokens] */
    char *text;            /* every token's text back to back */
    struct hash_index token_index;

    int32_t n_merges;
    struct merge *merges; /* [n_merges], index = rank */
    char *merge_text;
    struct hash_index merge_index;

    int32_t bos, eos, eot, eom, unk; /* -1 when absent */
    int add_bos;                     /* tokenizer.ggml.add_bos_token */
    int add_space_prefix;            /* SentencePiece: prepend ' ' to text after a special token or at the start */
    int ignore_merges;               /* BPE: a word that is a whole token skips merging (Llama 3) */

    int32_t *special; /* CONTROL, USER_DEFINED and UNKNOWN ids, longest text first */
    int32_t n_special;
    uint8_t *is_eog;       /* [n_tokens] */
    int32_t byte_token[256]; /* SentencePiece byte fallback: id of "<0xXX>", or -1 */
    struct byte_map byte_map;
};

/* ------------------------------------------------------------------------- */
/* Hashing */

static uint32_t hash_bytes(uint32_t h, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 16777619u; /* FNV-1a */
    }
    return h;
}

/* Spreads FNV's weak low bits over the whole word before masking (MurmurHash3's finalizer). */
static uint32_t hash_finish(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

#define HASH_SEED 2166136261u

static int hash_index_init(struct hash_index *ix, uint32_t n_keys)
{
    uint32_t cap = 16;

    if (n_keys > (UINT32_C(1) << 30))
        return LLM_ERR;
    while (cap < 2 * (uint64_t)n_keys)
        cap *= 2;
    ix->slots = malloc(cap * sizeof *ix->slots);
    ix->hashes = malloc(cap * sizeof *ix->hashes);
    ix->mask = cap - 1;
    if (!ix->slots || !ix->hashes)
        return LLM_ERR;
    memset(ix->slots, 0xff, cap * sizeof *ix->slots);
    return LLM_OK;
}

static void hash_index_free(struct hash_index *ix)
{
    free(ix->slots);
    free(ix->hashes);
}

static const char *token_text(const llm_vocab *v, int32_t id)
{
    return v->text + v->tokens[id].offset;
}

/* Returns the id of the token whose text is s[0..n), or -1. */
static int32_t find_token(const llm_vocab *v, const char *s, size_t n)
{
    uint32_t h = hash_finish(hash_bytes(HASH_SEED, s, n)), i;

    for (i = h & v->token_index.mask;; i = (i + 1) & v->token_index.mask) {
        int32_t id = v->token_index.slots[i];
        if (id < 0)
            return -1;
        if (v->token_index.hashes[i] == h && v->tokens[id].len == n && memcmp(token_text(v, id), s, n) == 0)
            return id;
    }
}

/* Adds token id to the index. Returns the id that already has the same text, or -1. */
static int32_t insert_token(llm_vocab *v, int32_t id)
{
    const char *s = token_text(v, id);
    size_t n = v->tokens[id].len;
    uint32_t h = hash_finish(hash_bytes(HASH_SEED, s, n)), i;

    for (i = h & v->token_index.mask;; i = (i + 1) & v->token_index.mask) {
        int32_t other = v->token_index.slots[i];
        if (other < 0) {
            v->token_index.slots[i] = id;
            v->token_index.hashes[i] = h;
            return -1;
        }
        if (v->token_index.hashes[i] == h && v->tokens[other].len == n && memcmp(token_text(v, other), s, n) == 0)
            return other;
    }
}

static uint32_t hash_pair(const char *left, size_t left_len, const char *right, size_t right_len)
{
    uint32_t h = hash_bytes(HASH_SEED, left, left_len);

    h = hash_bytes(h, " ", 1);
    return hash_finish(hash_bytes(h, right, right_len));
}

static int merge_equals(const llm_vocab *v, int32_t rank, const char *left, size_t left_len, const char *right,
                        size_t right_len)
{
    const struct merge *m = &v->merges[rank];
    const char *s = v->merge_text + m->offset;

    return m->left_len == left_len && m->right_len == right_len && memcmp(s, left, left_len) == 0 &&
           memcmp(s + left_len + 1, right, right_len) == 0;
}

/* Returns the rank of merge (left, right), or -1 when the pair does not merge. */
static int32_t find_merge(const llm_vocab *v, const char *left, size_t left_len, const char *right, size_t right_len)
{
    uint32_t h = hash_pair(left, left_len, right, right_len), i;

    for (i = h & v->merge_index.mask;; i = (i + 1) & v->merge_index.mask) {
        int32_t rank = v->merge_index.slots[i];
        if (rank < 0)
            return -1;
        if (v->merge_index.hashes[i] == h && merge_equals(v, rank, left, left_len, right, right_len))
            return rank;
    }
}

/* Adds merge rank to the index unless the same pair is there already (the lower rank wins, as in llama.cpp). */
static void insert_merge(llm_vocab *v, int32_t rank)
{
    const struct merge *m = &v->merges[rank];
    const char *left = v->merge_text + m->offset, *right = left + m->left_len + 1;
    uint32_t h = hash_pair(left, m->left_len, right, m->right_len), i;

    for (i = h & v->merge_index.mask;; i = (i + 1) & v->merge_index.mask) {
        int32_t other = v->merge_index.slots[i];
        if (other < 0) {
            v->merge_index.slots[i] = rank;
            v->merge_index.hashes[i] = h;
            return;
        }
        if (v->merge_index.hashes[i] == h && merge_equals(v, other, left, m->left_len, right, m->right_len))
            return;
    }
}

/* ------------------------------------------------------------------------- */
/* UTF-8 */

/* Returns the byte length of the UTF-8 character a lead byte starts, or 1 for a stray continuation byte. */
static size_t utf8_len(uint8_t lead)
{
    static const uint8_t by_high_nibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return by_high_nibble[lead >> 4];
}

#define REPLACEMENT_CHARACTER 0xFFFDu

/*
 * Decodes one character at s[*i] and advances *i. Like llama.cpp it checks
 * only the lead and continuation bits, so overlong forms and surrogates pass
 * through. A byte that starts no valid sequence becomes U+FFFD and advances
 * by one. Code points above U+10FFFF also become U+FFFD, where llama.cpp
 * throws when it re-encodes the word.
 */
static uint32_t utf8_decode(const uint8_t *s, size_t n, size_t *i)
{
    uint8_t b0 = s[*i];
    size_t len, k;
    uint32_t cp;

    if (b0 < 0x80) {
        *i += 1;
        return b0;
    }
    if ((b0 & 0x40) == 0 || (b0 & 0xF8) == 0xF8) {
        *i += 1;
        return REPLACEMENT_CHARACTER;
    }
    len = (b0 & 0x20) == 0 ? 2 : (b0 & 0x10) == 0 ? 3 : 4;
    if (n - *i < len) {
        *i += 1;
        return REPLACEMENT_CHARACTER;
    }
    cp = b0 & (0x7Fu >> len);
    for (k = 1; k < len; k++) {
        if ((s[*i + k] & 0xC0) != 0x80) {
            *i += 1;
            return REPLACEMENT_CHARACTER;
        }
        cp = cp << 6 | (s[*i + k] & 0x3Fu);
    }
    *i += len;
    return cp <= 0x10FFFF ? cp : REPLACEMENT_CHARACTER;
}

/* Writes cp (at most U+10FFFF, surrogates allowed) as UTF-8 and returns the byte count. */
static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/*
 * GPT-2's byte-to-unicode map: byte-level BPE spells each byte as one
 * printable character. Bytes that are printable Latin-1 (0x21-0x7E,
 * 0xA1-0xAC, 0xAE-0xFF) map to themselves, and the other 68 map in byte
 * order to U+0100 and up. So a space is 'Ġ' (U+0120) and a newline 'Ċ' (U+010A).
 */
static uint32_t byte_to_unicode(uint8_t b)
{
    uint32_t n = 0, c;

    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)
        return b;
    for (c = 0; c < b; c++) {
        if (!((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE))
            n++;
    }
    return 256 + n;
}

static void byte_map_init(struct byte_map *map)
{
    int b;

    for (b = 0; b < BYTE_UNICODE_END; b++)
        map->byte_of[b] = -1;
    for (b = 0; b < 256; b++) {
        uint32_t cp = byte_to_unicode((uint8_t)b);
        map->utf8_len[b] = (uint8_t)utf8_encode(cp, map->utf8[b]);
        map->byte_of[cp] = (int16_t)b;
    }
}

/* ------------------------------------------------------------------------- */
/* Loading */

#define KEY_PREFIX "tokenizer.ggml."

static const gguf_kv *find_array(const gguf_file *f, const char *key, uint32_t element_type, int required,
                                 llm_error *err, int *failed)
{
    const gguf_kv *kv = gguf_find(f, key);

    *failed = 0;
    if (!kv) {
        if (required) {
            *failed = 1;
            llm_fail(err, "%s: metadata key '%s' is missing, so the file has no usable vocabulary", f->name, key);
        }
        return NULL;
    }
    if (kv->type != GGUF_ARRAY) {
        *failed = 1;
        llm_fail(err, "%s: metadata '%s' has type %s, expected an array of %s", f->name, key,
                 gguf_value_type_name(kv->type), gguf_value_type_name(element_type));
        return NULL;
    }
    return kv;
}

static int is_integer_type(uint32_t type)
{
    return type == GGUF_UINT8 || type == GGUF_INT8 || type == GGUF_UINT16 || type == GGUF_INT16 ||
           type == GGUF_UINT32 || type == GGUF_INT32 || type == GGUF_UINT64 || type == GGUF_INT64;
}

/*
 * Reads an optional token id such as tokenizer.ggml.bos_token_id into *id.
 * A missing key leaves *id at its default. The value -1 clears it, and so does
 * 0xFFFFFFFF, which converters write for "none" into a uint32. Any other id
 * must be below n_tokens.
 */
static int read_token_id(const gguf_file *f, const char *key, int32_t n_tokens, int32_t *id, llm_error *err)
{
    const gguf_kv *kv = gguf_find(f, key);
    int is_unsigned;

    if (!kv)
        return LLM_OK;
    if (!is_integer_type(kv->type))
        return llm_fail(err, "%s: metadata '%s' has type %s, expected an integer token id", f->name, key,
                        gguf_value_type_name(kv->type));
    is_unsigned = kv->type == GGUF_UINT8 || kv->type == GGUF_UINT16 || kv->type == GGUF_UINT32 ||
                  kv->type == GGUF_UINT64;
    if ((is_unsigned && (kv->v.u == UINT32_MAX || kv->v.u == UINT64_MAX)) || (!is_unsigned && kv->v.i == -1)) {
        *id = -1;
        return LLM_OK;
    }
    if (is_unsigned ? kv->v.u >= (uint64_t)n_tokens : (kv->v.i < 0 || kv->v.i >= n_tokens)) {
        if (is_unsigned)
            return llm_fail(err, "%s: metadata '%s' is %llu, expected a token id from 0 to %d", f->name, key,
                            (unsigned long long)kv->v.u, n_tokens - 1);
        return llm_fail(err, "%s: metadata '%s' is %lld, expected a token id from 0 to %d", f->name, key,
                        (long long)kv->v.i, n_tokens - 1);
    }
    *id = (int32_t)(is_unsigned ? kv->v.u : (uint64_t)kv->v.i);
    return LLM_OK;
}

/* Reads an optional bool key into *out, leaving the default when it is missing. */
static int read_bool(const gguf_file *f, const char *key, int *out, llm_error *err)
{
    const gguf_kv *kv = gguf_find(f, key);

    if (!kv)
        return LLM_OK;
    if (kv->type != GGUF_BOOL)
        return llm_fail(err, "%s: metadata '%s' has type %s, expected bool", f->name, key,
                        gguf_value_type_name(kv->type));
    *out = kv->v.u != 0;
    return LLM_OK;
}

/* Copies a short, possibly binary, string into buf for a message, escaping what is not printable ASCII. */
static const char *printable(const char *s, size_t n, char *buf, size_t cap)
{
    size_t i, o = 0;

    for (i = 0; i < n && o + 5 < cap; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c >= 0x20 && c < 0x7F && c != '\\')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    }
    if (i < n && o + 4 <= cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = 0;
    return buf;
}

static int read_model_kind(const gguf_file *f, llm_vocab *v, llm_error *err)
{
    gguf_str model, pre;
    const gguf_kv *kv;
    char shown[80];

    if (gguf_get_str(f, KEY_PREFIX "model", &model, err) != LLM_OK)
        return LLM_ERR;
    if (gguf_str_eq(model, "llama")) {
        /* SentencePiece, for which llama.cpp ignores tokenizer.ggml.pre. */
        v->kind = VOCAB_SPM;
        v->add_space_prefix = 1;
        return LLM_OK;
    }
    if (!gguf_str_eq(model, "gpt2"))
        return llm_fail(err,
                        "%s: tokenizer.ggml.model is '%s', which this build cannot tokenize "
                        "(supported: 'llama' for SentencePiece, 'gpt2' with pre-tokenizer 'llama-bpe')",
                        f->name, printable(model.ptr, (size_t)model.len, shown, sizeof shown));

    v->kind = VOCAB_BPE;
    kv = gguf_find(f, KEY_PREFIX "pre");
    if (!kv)
        return llm_fail(err,
                        "%s: tokenizer.ggml.pre is missing, so the BPE pre-tokenizer is unknown "
                        "(supported: 'llama-bpe', also written 'llama3' or 'llama-v3')",
                        f->name);
    if (kv->type != GGUF_STRING)
        return llm_fail(err, "%s: metadata 'tokenizer.ggml.pre' has type %s, expected string", f->name,
                        gguf_value_type_name(kv->type));
    pre = kv->v.s;
    /* llama.cpp treats these three names as one pre-tokenizer (LLAMA_VOCAB_PRE_TYPE_LLAMA3). */
    if (!gguf_str_eq(pre, "llama-bpe") && !gguf_str_eq(pre, "llama3") && !gguf_str_eq(pre, "llama-v3"))
        return llm_fail(err,
                        "%s: tokenizer.ggml.pre is '%s', a BPE pre-tokenizer this build does not implement "
                        "(supported: 'llama-bpe', also written 'llama3' or 'llama-v3')",
                        f->name, printable(pre.ptr, (size_t)pre.len, shown, sizeof shown));
    v->ignore_merges = 1;
    v->add_space_prefix = 0;
    return LLM_OK;
}

static int read_tokens(const gguf_file *f, llm_vocab *v, llm_error *err)
{
    const gguf_kv *kv;
    gguf_str *texts;
    uint64_t i, total = 0;
    int failed;

    kv = find_array(f, KEY_PREFIX "tokens", GGUF_STRING, 1, err, &failed);
    if (!kv)
        return LLM_ERR;
    if (kv->v.arr.type != GGUF_STRING)
        return llm_fail(err, "%s: metadata 'tokenizer.ggml.tokens' is an array of %s, expected an array of string",
                        f->name, gguf_value_type_name(kv->v.arr.type));
    if (kv->v.arr.n == 0 || kv->v.arr.n > INT32_MAX)
        return llm_fail(err, "%s: tokenizer.ggml.tokens has %llu tokens, expected 1 to %d", f->name,
                        (unsigned long long)kv->v.arr.n, INT32_MAX);
    v->n_tokens = (int32_t)kv->v.arr.n;

    texts = malloc((size_t)v->n_tokens * sizeof *texts);
    v->tokens = calloc((size_t)v->n_tokens, sizeof *v->tokens);
    if (!texts || !v->tokens) {
        free(texts);
        return llm_fail(err, "%s: out of memory for %d tokens", f->name, v->n_tokens);
    }
    gguf_array_strings(kv, texts);
    for (i = 0; i < kv->v.arr.n; i++)
        total += texts[i].len;
    if (total >= UINT32_MAX) {
        free(texts);
        return llm_fail(err, "%s: token texts take %llu bytes, expected less than 4 GiB", f->name,
                        (unsigned long long)total);
    }
    v->text = malloc((size_t)total + 1);
    if (!v->text) {
        free(texts);
        return llm_fail(err, "%s: out of memory for %llu bytes of token text", f->name, (unsigned long long)total);
    }
    total = 0;
    for (i = 0; i < kv->v.arr.n; i++) {
        memcpy(v->text + total, texts[i].ptr, (size_t)texts[i].len);
        v->tokens[i].offset = (uint32_t)total;
        v->tokens[i].len = (uint32_t)texts[i].len;
        v->tokens[i].type = TOKEN_NORMAL;
        total += texts[i].len;
    }
    free(texts);
    return LLM_OK;
}

static int read_scores_and_types(const gguf_file *f, llm_vocab *v, llm_error *err)
{
    const gguf_kv *kv;
    int32_t i;
    int failed;

    kv = find_array(f, KEY_PREFIX "scores", GGUF_FLOAT32, 0, err, &failed);
    if (failed)
        return LLM_ERR;
    if (kv) {
        uint32_t t = kv->v.arr.type;
        if (t != GGUF_FLOAT32 && t != GGUF_FLOAT64 && t != GGUF_INT32)
            return llm_fail(err, "%s: metadata 'tokenizer.ggml.scores' is an array of %s, expected float32",
                            f->name, gguf_value_type_name(t));
        if (kv->v.arr.n != (uint64_t)v->n_tokens)
            return llm_fail(err,
                            "%s: tokenizer.ggml.scores has %llu entries but tokenizer.ggml.tokens has %d; "
                            "expected one score per token (corrupt conversion?)",
                            f->name, (unsigned long long)kv->v.arr.n, v->n_tokens);
        for (i = 0; i < v->n_tokens; i++) {
            double s = gguf_array_f64(kv, (uint64_t)i);
            if (s != s)
                return llm_fail(err, "%s: tokenizer.ggml.scores[%d] is NaN, expected a number", f->name, i);
            v->tokens[i].score = (float)s;
        }
    }

    kv = find_array(f, KEY_PREFIX "token_type", GGUF_INT32, 0, err, &failed);
    if (failed)
        return LLM_ERR;
    if (kv) {
        if (!is_integer_type(kv->v.arr.type))
            return llm_fail(err, "%s: metadata 'tokenizer.ggml.token_type' is an array of %s, expected int32",
                            f->name, gguf_value_type_name(kv->v.arr.type));
        if (kv->v.arr.n != (uint64_t)v->n_tokens)
            return llm_fail(err,
                            "%s: tokenizer.ggml.token_type has %llu entries but tokenizer.ggml.tokens has %d; "
                            "expected one type per token (corrupt conversion?)",
                            f->name, (unsigned long long)kv->v.arr.n, v->n_tokens);
        for (i = 0; i < v->n_tokens; i++) {
            int64_t t = gguf_array_i64(kv, (uint64_t)i);
            if (t < 0 || t >= TOKEN_TYPE_COUNT)
                return llm_fail(err, "%s: tokenizer.ggml.token_type[%d] is %lld, expected 0 to %d", f->name, i,
                                (long long)t, TOKEN_TYPE_COUNT - 1);
            v->tokens[i].type = (uint8_t)t;
        }
    }
    return LLM_OK;
}

static int index_tokens(const gguf_file *f, llm_vocab *v, llm_error *err)
{
    int32_t id;
    char shown[80];

    if (hash_index_init(&v->token_index, (uint32_t)v->n_tokens) != LLM_OK)
        return llm_fail(err, "%s: out of memory for the token index", f->name);
    for (id = 0; id < v->n_tokens; id++) {
        int32_t other;
        /* An empty token can never come out of text, so it stays out of the index (llama.cpp renames it "[EMPTY_<id>]"). */
        if (v->tokens[id].len == 0)
            continue;
        other = insert_token(v, id);
        if (other >= 0)
            return llm_fail(err, "%s: tokenizer.ggml.tokens has '%s' twice, as ids %d and %d; expected unique tokens",
                            f->name, printable(token_text(v, id), v->tokens[id].len, shown, sizeof shown), other,
                            id);
    }
    return LLM_OK;
}

static int read_merges(const gguf_file *f, llm_vocab *v, llm_error *err)
{
    const gguf_kv *kv;
    gguf_str *texts;
    uint64_t i, total = 0;
    int failed;
    char shown[80];

    kv = find_array(f, KEY_PREFIX "merges", GGUF_STRING, 1, err, &failed);
    if (!kv)
        return LLM_ERR;
    if (kv->v.arr.type != GGUF_STRING)
        return llm_fail(err, "%s: metadata 'tokenizer.ggml.merges' is an array of %s, expected an array of string",
                        f->name, gguf_value_type_name(kv->v.arr.type));
    if (kv->v.arr.n > INT32_MAX)
        return llm_fail(err, "%s: tokenizer.ggml.merges has %llu merges, expected at most %d", f->name,
                        (unsigned long long)kv->v.arr.n, INT32_MAX);
    v->n_merges = (int32_t)kv->v.arr.n;

    texts = malloc(((size_t)v->n_merges + 1) * sizeof *texts);
    v->merges = malloc(((size_t)v->n_merges + 1) * sizeof *v->merges);
    if (!texts || !v->merges) {
        free(texts);
        return llm_fail(err, "%s: out of memory for %d merges", f->name, v->n_merges);
    }
    gguf_array_strings(kv, texts);
    for (i = 0; i < kv->v.arr.n; i++)
        total += texts[i].len;
    if (total >= UINT32_MAX) {
        free(texts);
        return llm_fail(err, "%s: merges take %llu bytes, expected less than 4 GiB", f->name,
                        (unsigned long long)total);
    }
    v->merge_text = malloc((size_t)total + 1);
    if (!v->merge_text || hash_index_init(&v->merge_index, (uint32_t)v->n_merges) != LLM_OK) {
        free(texts);
        return llm_fail(err, "%s: out of memory for %d merges", f->name, v->n_merges);
    }

    total = 0;
    for (i = 0; i < kv->v.arr.n; i++) {
        const char *s = texts[i].ptr;
        size_t n = (size_t)texts[i].len;
        /* The pair splits at the first space after the first byte, as llama.cpp splits it. */
        const char *space = n > 1 ? memchr(s + 1, ' ', n - 1) : NULL;
        if (!space) {
            free(texts);
            return llm_fail(err, "%s: tokenizer.ggml.merges[%llu] is '%s', expected two tokens separated by a space",
                            f->name, (unsigned long long)i, printable(s, n, shown, sizeof shown));
        }
        /* Both halves must be tokens, or the merge could never apply (every merge of Llama 3's vocabulary passes). */
        if (find_token(v, s, (size_t)(space - s)) < 0 || find_token(v, space + 1, n - (size_t)(space - s) - 1) < 0) {
            free(texts);
            return llm_fail(err, "%s: tokenizer.ggml.merges[%llu] is '%s', which names a token not in the vocabulary",
                            f->name, (unsigned long long)i, printable(s, n, shown, sizeof shown));
        }
        memcpy(v->merge_text + total, s, n);
        v->merges[i].offset = (uint32_t)total;
        v->merges[i].left_len = (uint32_t)(space - s);
        v->merges[i].right_len = (uint32_t)(n - (size_t)(space - s) - 1);
        insert_merge(v, (int32_t)i);
        total += n;
    }
    free(texts);
    return LLM_OK;
}

static int read_special_ids(const gguf_file *f, llm_vocab *v, llm_error *err)
{
    /* Defaults as in llama.cpp: SentencePiece models use <unk> 0, <s> 1, </s> 2. */
    v->bos = v->eos = v->eot = v->eom = v->unk = -1;
    if (v->kind == VOCAB_SPM) {
        v->unk = 0;
        v->bos = v->n_tokens > 1 ? 1 : -1;
        v->eos = v->n_tokens > 2 ? 2 : -1;
    }
    v->add_bos = 1; /* the default of both SentencePiece and the Llama 3 BPE in llama.cpp */

    if (read_token_id(f, KEY_PREFIX "bos_token_id", v->n_tokens, &v->bos, err) != LLM_OK ||
        read_token_id(f, KEY_PREFIX "eos_token_id", v->n_tokens, &v->eos, err) != LLM_OK ||
        read_token_id(f, KEY_PREFIX "eot_token_id", v->n_tokens, &v->eot, err) != LLM_OK ||
        read_token_id(f, KEY_PREFIX "eom_token_id", v->n_tokens, &v->eom, err) != LLM_OK ||
        read_token_id(f, KEY_PREFIX "unknown_token_id", v->n_tokens, &v->unk, err) != LLM_OK)
        return LLM_ERR;
    if (read_bool(f, KEY_PREFIX "add_bos_token", &v->add_bos, err) != LLM_OK ||
        read_bool(f, KEY_PREFIX "add_space_prefix", &v->add_space_prefix, err) != LLM_OK)
        return LLM_ERR;
    /* NOTE: tokenizer.ggml.add_eos_token is ignored and llm_tokenize never appends EOS (Llama 2 and 3 set it false). */
    return LLM_OK;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Returns the byte a "<0xXX>" text stands for, or -1 when the text has another form. */
static int parse_byte_token(const char *s, size_t n)
{
    int hi, lo;

    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    hi = hex_digit(s[3]);
    lo = hex_digit(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* SentencePiece byte fallback: "<0xXX>" for each byte, else the byte itself as a token, as llama.cpp looks them up. */
static int find_byte_tokens(const gguf_file *f, llm_vocab *v, llm_error *err)
{
    static const char hex[] = "0123456789ABCDEF";
    int32_t id;
    int b;
    char shown[80];

    for (b = 0; b < 256; b++) {
        char name[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        char raw = (char)b;
        v->byte_token[b] = find_token(v, name, 6);
        if (v->byte_token[b] < 0)
            v->byte_token[b] = find_token(v, &raw, 1);
    }
    for (id = 0; id < v->n_tokens; id++) {
        if (v->kind == VOCAB_SPM && v->tokens[id].type == TOKEN_BYTE &&
            parse_byte_token(token_text(v, id), v->tokens[id].len) < 0)
            return llm_fail(err, "%s: token %d '%s' has type BYTE, expected its text to be <0xXX>", f->name, id,
                            printable(token_text(v, id), v->tokens[id].len, shown, sizeof shown));
    }
    return LLM_OK;
}

/*
 * Texts that end generation, found by text as llama.cpp does because many
 * conversions store only EOS. The list is the part of llama.cpp's list that
 * Llama-family vocabularies use. llama.cpp also makes them CONTROL tokens.
 */
static const char *const eog_texts[] = {
    "<|eot_id|>",   "<|eom_id|>", "<|end_of_text|>", "<|im_end|>", "<|end|>",
    "<end_of_turn>", "<|endoftext|>", "<EOT>",        "_<EOT>",
};

/* Texts llama.cpp takes as the end-of-turn token when tokenizer.ggml.eot_token_id is missing. */
static const char *const eot_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>",
};

static int mark_end_of_generation(llm_vocab *v)
{
    size_t i;

    v->is_eog = calloc((size_t)v->n_tokens, 1);
    if (!v->is_eog)
        return LLM_ERR;
    for (i = 0; i < sizeof eot_texts / sizeof eot_texts[0] && v->eot < 0; i++)
        v->eot = find_token(v, eot_texts[i], strlen(eot_texts[i]));
    if (v->eom < 0)
        v->eom = find_token(v, "<|eom_id|>", 10);
    for (i = 0; i < sizeof eog_texts / sizeof eog_texts[0]; i++) {
        int32_t id = find_token(v, eog_texts[i], strlen(eog_texts[i]));
        if (id >= 0) {
            v->is_eog[id] = 1;
            v->tokens[id].type = TOKEN_CONTROL;
        }
    }
    if (v->eos >= 0)
        v->is_eog[v->eos] = 1;
    if (v->eot >= 0)
        v->is_eog[v->eot] = 1;
    if (v->eom >= 0)
        v->is_eog[v->eom] = 1;
    return LLM_OK;
}

static int is_special_type(uint8_t type)
{
    return type == TOKEN_CONTROL || type == TOKEN_USER_DEFINED || type == TOKEN_UNKNOWN;
}

struct special_entry {
    uint32_t len;
    int32_t id;
};

static int compare_special(const void *a, const void *b)
{
    const struct special_entry *x = a, *y = b;

    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Lists the tokens matched in raw text before tokenizing, longest first so "<|eot_id|>" wins over a prefix. */
static int list_special_tokens(llm_vocab *v)
{
    struct special_entry *entries;
    int32_t id, n = 0, i;

    for (id = 0; id < v->n_tokens; id++)
        n += is_special_type(v->tokens[id].type) && v->tokens[id].len > 0;
    entries = malloc(((size_t)n + 1) * sizeof *entries);
    v->special = malloc(((size_t)n + 1) * sizeof *v->special);
    if (!entries || !v->special) {
        free(entries);
        return LLM_ERR;
    }
    for (id = 0, i = 0; id < v->n_tokens; id++) {
        if (is_special_type(v->tokens[id].type) && v->tokens[id].len > 0) {
            entries[i].len = v->tokens[id].len;
            entries[i].id = id;
            i++;
        }
    }
    /* NOTE: llama.cpp leaves tokens of equal length in std::sort's unspecified order, but here the lower id comes first. */
    qsort(entries, (size_t)n, sizeof *entries, compare_special);
    for (i = 0; i < n; i++)
        v->special[i] = entries[i].id;
    v->n_special = n;
    free(entries);
    return LLM_OK;
}

llm_vocab *llm_vocab_open(const gguf_file *f, llm_error *err)
{
    llm_vocab *v = calloc(1, sizeof *v);

    if (!v) {
        llm_fail(err, "%s: out of memory for the vocabulary", f->name);
        return NULL;
    }
    byte_map_init(&v->byte_map);
    if (read_model_kind(f, v, err) != LLM_OK || read_tokens(f, v, err) != LLM_OK ||
        read_scores_and_types(f, v, err) != LLM_OK || index_tokens(f, v, err) != LLM_OK ||
        (v->kind == VOCAB_BPE && read_merges(f, v, err) != LLM_OK) || read_special_ids(f, v, err) != LLM_OK ||
        find_byte_tokens(f, v, err) != LLM_OK)
        goto fail;
    if (mark_end_of_generation(v) != LLM_OK || list_special_tokens(v) != LLM_OK) {
        llm_fail(err, "%s: out of memory for the vocabulary", f->name);
        goto fail;
    }
    return v;

fail:
    llm_vocab_close(v);
    return NULL;
}

void llm_vocab_close(llm_vocab *v)
{
    if (!v)
        return;
    free(v->tokens);
    free(v->text);
    hash_index_free(&v->token_index);
    free(v->merges);
    free(v->merge_text);
    hash_index_free(&v->merge_index);
    free(v->special);
    free(v->is_eog);
    free(v);
}

int32_t llm_vocab_size(const llm_vocab *v)
{
    return v->n_tokens;
}

int32_t llm_vocab_bos(const llm_vocab *v)
{
    return v->bos;
}

int32_t llm_vocab_eos(const llm_vocab *v)
{
    return v->eos;
}

int llm_vocab_is_eog(const llm_vocab *v, int32_t id)
{
    return id >= 0 && id < v->n_tokens && v->is_eog[id];
}

/* ------------------------------------------------------------------------- */
/* Tokenizing: shared pieces */

/* A growable array of output ids. ok turns 0 once memory runs out. */
struct id_list {
    int32_t *ids;
    size_t n, cap;
    int ok;
};

static void push_id(struct id_list *l, int32_t id)
{
    if (!l->ok)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        int32_t *ids = realloc(l->ids, cap * sizeof *ids);
        if (!ids) {
            l->ok = 0;
            return;
        }
        l->ids = ids;
        l->cap = cap;
    }
    l->ids[l->n++] = id;
}

/* A piece of the input: raw text [offset, offset + len), or a special token matched in it. */
struct fragment {
    size_t offset;
    size_t len;
    int32_t token; /* -1 for raw text */
};

struct fragment_list {
    struct fragment *items;
    size_t n, cap;
};

static int push_fragment(struct fragment_list *l, size_t offset, size_t len, int32_t token)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct fragment *items = realloc(l->items, cap * sizeof *items);
        if (!items)
            return LLM_ERR;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n].offset = offset;
    l->items[l->n].len = len;
    l->items[l->n].token = token;
    l->n++;
    return LLM_OK;
}

static const char *find_bytes(const char *hay, size_t n, const char *needle, size_t m)
{
    const char *end, *p;

    if (m == 0 || m > n)
        return NULL;
    end = hay + (n - m);
    for (p = hay; p <= end; p++) {
        p = memchr(p, needle[0], (size_t)(end - p) + 1);
        if (!p)
            return NULL;
        if (memcmp(p, needle, m) == 0)
            return p;
    }
    return NULL;
}

/*
 * Splits text into raw fragments and special tokens as llama.cpp does: one
 * special token at a time, longest first, every occurrence in every raw
 * fragment left so far. Without parse_special only USER_DEFINED tokens take
 * part. Leaves the result in *out (out->items may be swapped with scratch).
 */
static int split_special(const llm_vocab *v, const char *text, size_t n, int parse_special,
                         struct fragment_list *out, struct fragment_list *scratch)
{
    int32_t s;

    out->n = 0;
    if (n == 0)
        return LLM_OK;
    if (push_fragment(out, 0, n, -1) != LLM_OK)
        return LLM_ERR;

    for (s = 0; s < v->n_special; s++) {
        int32_t id = v->special[s];
        const char *word = token_text(v, id);
        size_t word_len = v->tokens[id].len, i;
        struct fragment_list swap;
        int found = 0;

        if (!parse_special && v->tokens[id].type != TOKEN_USER_DEFINED)
            continue;
        scratch->n = 0;
        for (i = 0; i < out->n; i++) {
            struct fragment fr = out->items[i];
            const char *at;

            while (fr.token < 0 && (at = find_bytes(text + fr.offset, fr.len, word, word_len)) != NULL) {
                size_t before = (size_t)(at - (text + fr.offset));
                found = 1;
                if (before > 0 && push_fragment(scratch, fr.offset, before, -1) != LLM_OK)
                    return LLM_ERR;
                if (push_fragment(scratch, 0, 0, id) != LLM_OK)
                    return LLM_ERR;
                fr.offset += before + word_len;
                fr.len -= before + word_len;
            }
            if ((fr.token >= 0 || fr.len > 0) && push_fragment(scratch, fr.offset, fr.len, fr.token) != LLM_OK)
                return LLM_ERR;
        }
        if (!found)
            continue;
        swap = *out;
        *out = *scratch;
        *scratch = swap;
    }
    return LLM_OK;
}

/* Linked symbols merged in place: a symbol absorbs its right neighbour, which keeps n = 0 afterwards. */
struct symbol {
    size_t start; /* into the word being tokenized */
    size_t n;
    int32_t prev, next; /* -1 at the ends */
};

/* A candidate merge of two adjacent symbols. The lower key merges first, then the leftmost. */
struct bigram {
    double key; /* -score for SentencePiece, the merge rank for BPE */
    int32_t left, right;
    size_t size; /* bytes of both symbols when queued, to spot a stale entry */
};

struct bigram_heap {
    struct bigram *items;
    size_t n, cap;
};

static int bigram_before(const struct bigram *a, const struct bigram *b)
{
    return a->key < b->key || (a->key == b->key && a->left < b->left);
}

static int heap_push(struct bigram_heap *h, struct bigram item)
{
    size_t i;

    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        struct bigram *items = realloc(h->items, cap * sizeof *items);
        if (!items)
            return LLM_ERR;
        h->items = items;
        h->cap = cap;
    }
    i = h->n++;
    while (i > 0 && bigram_before(&item, &h->items[(i - 1) / 2])) {
        h->items[i] = h->items[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->items[i] = item;
    return LLM_OK;
}

static struct bigram heap_pop(struct bigram_heap *h)
{
    struct bigram top = h->items[0], last = h->items[--h->n];
    size_t i = 0;

    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && bigram_before(&h->items[child + 1], &h->items[child]))
            child++;
        if (!bigram_before(&h->items[child], &last))
            break;
        h->items[i] = h->items[child];
        i = child;
    }
    if (h->n > 0)
        h->items[i] = last;
    return top;
}

/* Per-call working memory, grown as needed and freed once at the end of llm_tokenize. */
struct work {
    struct id_list out;
    struct fragment_list fragments, scratch;
    struct symbol *symbols;
    size_t symbols_cap;
    struct bigram_heap heap;
    char *buf; /* the word being tokenized */
    size_t buf_cap;
    uint32_t *cps; /* code points of a BPE fragment */
    size_t cps_cap;
};

/* Returns p grown to hold at least need items of size bytes and updates *cap. NULL, with p untouched, when memory runs out. */
static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
    void *q;

    if (need <= *cap)
        return p;
    if (need > SIZE_MAX / size / 2)
        return NULL;
    q = realloc(p, 2 * need * size);
    if (q)
        *cap = 2 * need;
    return q;
}

/* Splits w->buf[0..n) into one symbol per UTF-8 character (a truncated one keeps what is there). */
static int split_characters(struct work *w, size_t n, size_t *n_symbols)
{
    size_t offset = 0, count = 0;
    struct symbol *symbols = grow(w->symbols, &w->symbols_cap, n + 1, sizeof *w->symbols);

    if (!symbols)
        return LLM_ERR;
    w->symbols = symbols;
    while (offset < n) {
        struct symbol *sym = &w->symbols[count];
        size_t len = utf8_len((uint8_t)w->buf[offset]);
        sym->start = offset;
        sym->n = len < n - offset ? len : n - offset;
        offset += sym->n;
        sym->prev = (int32_t)count - 1;
        sym->next = offset == n ? -1 : (int32_t)count + 1;
        count++;
    }
    *n_symbols = count;
    return LLM_OK;
}

/* Merges a popped bigram if both symbols are still as queued. Returns 1 when it merged. */
static int merge_bigram(struct symbol *symbols, const struct bigram *b)
{
    struct symbol *left = &symbols[b->left], *right = &symbols[b->right];

    if (left->n == 0 || right->n == 0 || left->next != b->right || left->n + right->n != b->size)
        return 0;
    left->n += right->n;
    right->n = 0;
    left->next = right->next;
    if (right->next >= 0)
        symbols[right->next].prev = b->left;
    return 1;
}

/* ------------------------------------------------------------------------- */
/* SentencePiece */

static int spm_try_bigram(const llm_vocab *v, struct work *w, int32_t left, int32_t right)
{
    struct bigram b;
    size_t n;
    int32_t id;

    if (left < 0 || right < 0)
        return LLM_OK;
    n = w->symbols[left].n + w->symbols[right].n;
    id = find_token(v, w->buf + w->symbols[left].start, n);
    if (id < 0)
        return LLM_OK;
    b.key = -(double)v->tokens[id].score;
    b.left = left;
    b.right = right;
    b.size = n;
    return heap_push(&w->heap, b);
}

/*
 * Tokenizes w->buf[0..n), already escaped (spaces as U+2581). It starts from
 * characters and keeps merging the adjacent pair that forms the token of
 * highest score, the leftmost on ties. So every merged symbol is a token, and
 * only a single character can be left without one; it falls back to byte tokens.
 */
static int spm_tokenize(const llm_vocab *v, struct work *w, size_t n)
{
    size_t n_symbols, i;
    int32_t s;

    if (split_characters(w, n, &n_symbols) != LLM_OK)
        return LLM_ERR;
    w->heap.n = 0;
    for (i = 1; i < n_symbols; i++) {
        if (spm_try_bigram(v, w, (int32_t)i - 1, (int32_t)i) != LLM_OK)
            return LLM_ERR;
    }
    while (w->heap.n > 0) {
        struct bigram b = heap_pop(&w->heap);
        if (!merge_bigram(w->symbols, &b))
            continue;
        if (spm_try_bigram(v, w, w->symbols[b.left].prev, b.left) != LLM_OK ||
            spm_try_bigram(v, w, b.left, w->symbols[b.left].next) != LLM_OK)
            return LLM_ERR;
    }

    for (s = n_symbols > 0 ? 0 : -1; s >= 0; s = w->symbols[s].next) {
        const struct symbol *sym = &w->symbols[s];
        int32_t id = find_token(v, w->buf + sym->start, sym->n);
        if (id >= 0) {
            push_id(&w->out, id);
            continue;
        }
        for (i = 0; i < sym->n; i++) {
            int32_t byte_id = v->byte_token[(uint8_t)w->buf[sym->start + i]];
            /* NOTE: llama.cpp throws when a vocabulary has no token for a byte. Here <unk> replaces it, or the byte is dropped if there is no <unk>. */
            if (byte_id < 0)
                byte_id = v->unk;
            if (byte_id >= 0)
                push_id(&w->out, byte_id);
        }
    }
    return LLM_OK;
}

#define SPM_SPACE "\xe2\x96\x81" /* U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's visible space */

/* Copies text into w->buf with an optional leading space, writing every ' ' as U+2581, and stores the length. */
static int spm_escape(struct work *w, const char *text, size_t n, int space_prefix, size_t *out_len)
{
    size_t i, o = 0;
    char *buf = n < SIZE_MAX / 3 - 1 ? grow(w->buf, &w->buf_cap, 3 * (n + 1), 1) : NULL;

    if (!buf)
        return LLM_ERR;
    w->buf = buf;
    if (space_prefix) {
        memcpy(w->buf, SPM_SPACE, 3);
        o = 3;
    }
    for (i = 0; i < n; i++) {
        if (text[i] == ' ') {
            memcpy(w->buf + o, SPM_SPACE, 3);
            o += 3;
        } else {
            w->buf[o++] = text[i];
        }
    }
    *out_len = o;
    return LLM_OK;
}

/* ------------------------------------------------------------------------- */
/* Byte-level BPE */

static int bpe_try_bigram(const llm_vocab *v, struct work *w, int32_t left, int32_t right)
{
    const struct symbol *l, *r;
    struct bigram b;
    int32_t rank;

    if (left < 0 || right < 0)
        return LLM_OK;
    l = &w->symbols[left];
    r = &w->symbols[right];
    rank = find_merge(v, w->buf + l->start, l->n, w->buf + r->start, r->n);
    if (rank < 0)
        return LLM_OK;
    b.key = rank;
    b.left = left;
    b.right = right;
    b.size = l->n + r->n;
    return heap_push(&w->heap, b);
}

/*
 * Tokenizes one pre-tokenized word: its bytes spelled through the
 * byte-to-unicode map, then merged pair by pair in merge-rank order (the
 * leftmost pair on ties). With ignore_merges a word that is a token as a
 * whole is taken as it is, as the Llama 3 tokenizer does.
 */
static int bpe_word(const llm_vocab *v, struct work *w, const uint32_t *cps, size_t n_cps)
{
    size_t n = 0, i, n_symbols;
    int32_t s, id;
    char utf8[4];

    char *buf = n_cps < SIZE_MAX / 8 ? grow(w->buf, &w->buf_cap, 8 * n_cps, 1) : NULL;

    if (!buf)
        return LLM_ERR;
    w->buf = buf;
    for (i = 0; i < n_cps; i++) {
        size_t len = utf8_encode(cps[i], utf8), k;
        for (k = 0; k < len; k++) {
            uint8_t b = (uint8_t)utf8[k];
            memcpy(w->buf + n, v->byte_map.utf8[b], v->byte_map.utf8_len[b]);
            n += v->byte_map.utf8_len[b];
        }
    }

    if (v->ignore_merges && (id = find_token(v, w->buf, n)) >= 0) {
        push_id(&w->out, id);
        return LLM_OK;
    }

    if (split_characters(w, n, &n_symbols) != LLM_OK)
        return LLM_ERR;
    w->heap.n = 0;
    for (i = 1; i < n_symbols; i++) {
        if (bpe_try_bigram(v, w, (int32_t)i - 1, (int32_t)i) != LLM_OK)
            return LLM_ERR;
    }
    while (w->heap.n > 0) {
        struct bigram b = heap_pop(&w->heap);
        if (!merge_bigram(w->symbols, &b))
            continue;
        if (bpe_try_bigram(v, w, w->symbols[b.left].prev, b.left) != LLM_OK ||
            bpe_try_bigram(v, w, b.left, w->symbols[b.left].next) != LLM_OK)
            return LLM_ERR;
    }

    for (s = n_symbols > 0 ? 0 : -1; s >= 0; s = w->symbols[s].next) {
        const struct symbol *sym = &w->symbols[s];
        id = find_token(v, w->buf + sym->start, sym->n);
        if (id >= 0) {
            push_id(&w->out, id);
            continue;
        }
        /* A merge whose result is not a token: llama.cpp emits the single bytes that are tokens and drops the rest. */
        for (i = 0; i < sym->n; i++) {
            id = find_token(v, w->buf + sym->start + i, 1);
            if (id >= 0)
                push_id(&w->out, id);
        }
    }
    return LLM_OK;
}

#define OUT_OF_RANGE 0xFFFFFFFFu
#define IN_RANGE 0x100u /* added to the class bits of every position inside the fragment */
#define LETTER UNICODE_LETTER
#define NUMBER UNICODE_NUMBER
#define SPACE UNICODE_WHITESPACE

/* The pre-tokenizer's view of a fragment: positions past the end read as OUT_OF_RANGE with no class bits. */
struct cursor {
    const uint32_t *cps;
    size_t n;
};

static uint32_t cp_at(const struct cursor *c, size_t pos)
{
    return pos < c->n ? c->cps[pos] : OUT_OF_RANGE;
}

static unsigned flags_at(const struct cursor *c, size_t pos)
{
    return pos < c->n ? unicode_flags(c->cps[pos]) | IN_RANGE : 0;
}

static uint32_t ascii_lower(uint32_t cp)
{
    return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
}

/*
 * Returns the end of the word that starts at pos, by the Llama 3 pattern
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3} |
 *    ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
 * matched by hand in the order llama.cpp's unicode_regex_split_custom_llama3
 * tries the alternatives, with the same classes (\p{L} = L*, \p{N} = N*,
 * \s = White_Space). Only ASCII letters lower-case to the letters of a
 * contraction, so ASCII lower-casing is enough for (?i:...).
 */
static size_t llama3_word_end(const struct cursor *c, size_t pos)
{
    uint32_t cp = c->cps[pos];
    unsigned flags = flags_at(c, pos), flags2;
    size_t n_space, last_newline_end;

    if (cp == '\'' && pos + 1 < c->n) {
        uint32_t next = ascii_lower(c->cps[pos + 1]);
        if (next == 's' || next == 't' || next == 'm' || next == 'd')
            return pos + 2;
        if (pos + 2 < c->n) {
            uint32_t next2 = ascii_lower(c->cps[pos + 2]);
            if ((next == 'r' && next2 == 'e') || (next == 'v' && next2 == 'e') || (next == 'l' && next2 == 'l'))
                return pos + 3;
        }
    }

    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (!(cp == '\r' || cp == '\n' || (flags & NUMBER)) && ((flags & LETTER) || (flags_at(c, pos + 1) & LETTER))) {
        pos++;
        while (flags_at(c, pos) & LETTER)
            pos++;
        return pos;
    }

    /* \p{N}{1,3}: the caller comes back for the next group of digits */
    if (flags & NUMBER) {
        size_t start = pos;
        while ((flags_at(c, pos) & NUMBER) && pos - start < 3)
            pos++;
        return pos;
    }

    /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
    flags2 = cp == ' ' ? flags_at(c, pos + 1) : flags;
    if (!(flags2 & (SPACE | LETTER | NUMBER))) {
        pos += cp == ' ';
        while (!(flags2 & (SPACE | LETTER | NUMBER)) && flags2)
            flags2 = flags_at(c, ++pos);
        while (cp_at(c, pos) == '\r' || cp_at(c, pos) == '\n')
            pos++;
        return pos;
    }

    n_space = 0;
    last_newline_end = 0;
    while (flags_at(c, pos + n_space) & SPACE) {
        uint32_t ws = cp_at(c, pos + n_space);
        if (ws == '\r' || ws == '\n')
            last_newline_end = pos + n_space + 1;
        n_space++;
    }
    /* \s*[\r\n]+ */
    if (last_newline_end > 0)
        return last_newline_end;
    /* \s+(?!\S): leave the last space to start the next word */
    if (n_space > 1 && cp_at(c, pos + n_space) != OUT_OF_RANGE)
        return pos + n_space - 1;
    /* \s+ */
    if (n_space > 0)
        return pos + n_space;
    return pos + 1;
}

static int bpe_tokenize(const llm_vocab *v, struct work *w, const char *text, size_t n)
{
    struct cursor c;
    size_t i = 0, m = 0, pos;
    uint32_t *cps = grow(w->cps, &w->cps_cap, n, sizeof *w->cps);

    if (!cps)
        return LLM_ERR;
    w->cps = cps;
    while (i < n)
        w->cps[m++] = utf8_decode((const uint8_t *)text, n, &i);
    c.cps = w->cps;
    c.n = m;

    for (pos = 0; pos < m;) {
        size_t end = llama3_word_end(&c, pos);
        if (bpe_word(v, w, w->cps + pos, end - pos) != LLM_OK)
            return LLM_ERR;
        pos = end;
    }
    return LLM_OK;
}

/* ------------------------------------------------------------------------- */
/* Tokenizing: entry point */

static int tokenize_fragments(const llm_vocab *v, struct work *w, const char *text)
{
    int prev_special = 1; /* SentencePiece prefixes a space at the start and after each special token */
    size_t i;

    for (i = 0; i < w->fragments.n; i++) {
        const struct fragment *fr = &w->fragments.items[i];
        size_t len;

        if (fr->token >= 0) {
            push_id(&w->out, fr->token);
            prev_special = 1;
            continue;
        }
        if (v->kind == VOCAB_SPM) {
            if (spm_escape(w, text + fr->offset, fr->len, v->add_space_prefix && prev_special, &len) != LLM_OK ||
                spm_tokenize(v, w, len) != LLM_OK)
                return LLM_ERR;
        } else if (bpe_tokenize(v, w, text + fr->offset, fr->len) != LLM_OK) {
            return LLM_ERR;
        }
        prev_special = 0;
    }
    return LLM_OK;
}

int llm_tokenize(const llm_vocab *v, const char *text, size_t n, int add_bos, int parse_special, int32_t *out,
                 int max_out)
{
    struct work w;
    size_t n_ids, i, first = 0;
    int status, bos;

    if (!v || (!text && n > 0))
        return -1;
    memset(&w, 0, sizeof w);
    w.out.ok = 1;

    status = split_special(v, text, n, parse_special, &w.fragments, &w.scratch);
    if (status == LLM_OK)
        status = tokenize_fragments(v, &w, text);

    bos = add_bos && v->add_bos && v->bos >= 0 && !(w.out.n > 0 && w.out.ids[0] == v->bos);
    n_ids = w.out.n + (size_t)bos;
    if (bos && max_out > 0)
        out[first++] = v->bos;
    for (i = 0; i < w.out.n && first + i < (size_t)(max_out > 0 ? max_out : 0); i++)
        out[first + i] = w.out.ids[i];

    if (status != LLM_OK || !w.out.ok)
        n_ids = (size_t)-1;
    free(w.out.ids);
    free(w.fragments.items);
    free(w.scratch.items);
    free(w.symbols);
    free(w.heap.items);
    free(w.buf);
    free(w.cps);
    if (n_ids == (size_t)-1)
        return -1;
    return n_ids > INT_MAX ? INT_MAX : (int)n_ids;
}

/* ------------------------------------------------------------------------- */
/* Detokenizing */

static int copy_out(const char *bytes, size_t n, char *buf, int cap)
{
    if (cap > 0)
        memcpy(buf, bytes, n < (size_t)cap ? n : (size_t)cap);
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* SentencePiece: U+2581 becomes a space. */
static int spm_piece(const char *s, size_t n, char *buf, int cap)
{
    size_t i = 0, o = 0;

    while (i < n) {
        int is_space = n - i >= 3 && memcmp(s + i, SPM_SPACE, 3) == 0;
        if (cap > 0 && o < (size_t)cap)
            buf[o] = is_space ? ' ' : s[i];
        o++;
        i += is_space ? 3 : 1;
    }
    return o > INT_MAX ? INT_MAX : (int)o;
}

/*
 * Byte-level BPE: each character maps back to its byte. NOTE: a character
 * outside the byte map, which a byte-level vocabulary never has, is copied as
 * it is, where llama.cpp writes "[UNK_BYTE_0x...]" instead.
 */
static int bpe_piece(const struct byte_map *map, const char *s, size_t n, char *buf, int cap)
{
    size_t i = 0, o = 0;

    while (i < n) {
        size_t start = i, k;
        uint32_t cp = utf8_decode((const uint8_t *)s, n, &i);
        if (cp < BYTE_UNICODE_END && map->byte_of[cp] >= 0) {
            if (cap > 0 && o < (size_t)cap)
                buf[o] = (char)map->byte_of[cp];
            o++;
            continue;
        }
        for (k = start; k < i; k++) {
            if (cap > 0 && o < (size_t)cap)
                buf[o] = s[k];
            o++;
        }
    }
    return o > INT_MAX ? INT_MAX : (int)o;
}

int llm_token_piece(const llm_vocab *v, int32_t id, char *buf, int cap)
{
    const struct token *t;
    const char *s;
    char byte;

    if (!v || id < 0 || id >= v->n_tokens)
        return 0;
    t = &v->tokens[id];
    s = token_text(v, id);
    switch (t->type) {
    case TOKEN_USER_DEFINED:
        return copy_out(s, t->len, buf, cap);
    case TOKEN_NORMAL:
        return v->kind == VOCAB_SPM ? spm_piece(s, t->len, buf, cap) : bpe_piece(&v->byte_map, s, t->len, buf, cap);
    case TOKEN_BYTE:
        if (v->kind != VOCAB_SPM)
            return 0;
        byte = (char)parse_byte_token(s, t->len); /* checked at load */
        return copy_out(&byte, 1, buf, cap);
    default:
        /* CONTROL and UNKNOWN print nothing, as in llama.cpp's token_to_piece with special = false. UNUSED and UNDEFINED neither. */
        return 0;
    }
}
