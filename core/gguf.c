/*
 * gguf.c - parses and validates a GGUF file held in memory.
 *
 * File layout (all integers little-endian):
 *   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
 *   n_kv x      { string key | u32 value_type | value }
 *   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 type | u64 offset }
 *   padding to general.alignment (default 32)
 *   tensor data; each tensor at data_offset + offset, offset a multiple of the alignment
 * A string is u64 length + bytes (no NUL). An array value is u32 element type,
 * u64 count, elements.
 *
 * Every read goes through struct reader, which fails instead of reading
 * past the end; tests/test_gguf.c has one broken file per failure kind.
 */
#include "gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"

#define GGUF_MAGIC "GGUF"
#define MAX_ARRAY_DEPTH 8

struct reader {
    const uint8_t *base;
    uint64_t size;      /* bytes that can be read: the whole file, or its first part for gguf_open_header */
    uint64_t file_size; /* bytes of the whole file, which bound counts, shapes and tensor offsets */
    uint64_t pos;
    int more;           /* set when a read failed only because the first part ended before the file does */
    const char *name; /* file name for messages */
    char where[400];  /* the part being read, for messages */
    llm_error *err;
};

/*
 * Called when a read of need bytes at r->pos runs past r->size. When only
 * the first part of the file is at hand and the file itself has the bytes,
 * the header simply goes on past that part: mark it so gguf_open_header can
 * ask for more instead of calling the file broken.
 */
static void note_cut(struct reader *r, uint64_t need)
{
    if (r->size < r->file_size && need <= r->file_size - r->pos)
        r->more = 1;
}

static int fail_truncated(struct reader *r, uint64_t need)
{
    note_cut(r, need);
    return llm_fail(r->err,
                    "%s: file truncated in %s: needs %llu more bytes at offset %llu but the file has %llu bytes "
                    "(incomplete download?)",
                    r->name, r->where, (unsigned long long)need, (unsigned long long)r->pos,
                    (unsigned long long)r->size);
}

static int read_bytes(struct reader *r, void *out, uint64_t n)
{
    if (r->size - r->pos < n)
        return fail_truncated(r, n);
    memcpy(out, r->base + r->pos, (size_t)n);
    r->pos += n;
    return LLM_OK;
}

static int read_u32(struct reader *r, uint32_t *out)
{
    uint8_t b[4] = {0};

    if (read_bytes(r, b, 4) != LLM_OK)
        return LLM_ERR;
    *out = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return LLM_OK;
}

static int read_u64(struct reader *r, uint64_t *out)
{
    uint8_t b[8] = {0};
    int i;

    /* All 8 bytes at once, so that a cut inside the field reports the 8 bytes it needs. */
    if (read_bytes(r, b, 8) != LLM_OK)
        return LLM_ERR;
    *out = 0;
    for (i = 7; i >= 0; i--)
        *out = *out << 8 | b[i];
    return LLM_OK;
}

static int read_str(struct reader *r, gguf_str *out)
{
    uint64_t len;

    if (read_u64(r, &len) != LLM_OK)
        return LLM_ERR;
    if (r->size - r->pos < len) {
        note_cut(r, len);
        return llm_fail(r->err,
                        "%s: string in %s at offset %llu claims %llu bytes but only %llu remain in the file "
                        "(corrupt or truncated file?)",
                        r->name, r->where, (unsigned long long)(r->pos - 8), (unsigned long long)len,
                        (unsigned long long)(r->size - r->pos));
    }
    out->ptr = (const char *)r->base + r->pos;
    out->len = len;
    r->pos += len;
    return LLM_OK;
}

/* Size in bytes of one fixed-size value, or 0 for STRING, ARRAY and unknown types. */
static uint64_t scalar_size(uint32_t type)
{
    switch (type) {
    case GGUF_UINT8:
    case GGUF_INT8:
    case GGUF_BOOL:
        return 1;
    case GGUF_UINT16:
    case GGUF_INT16:
        return 2;
    case GGUF_UINT32:
    case GGUF_INT32:
    case GGUF_FLOAT32:
        return 4;
    case GGUF_UINT64:
    case GGUF_INT64:
    case GGUF_FLOAT64:
        return 8;
    default:
        return 0;
    }
}

const char *gguf_value_type_name(uint32_t type)
{
    static const char *const names[GGUF_VALUE_TYPE_COUNT] = {
        "uint8", "int8",  "uint16", "int16", "uint32", "int32",  "float32",
        "bool",  "string", "array", "uint64", "int64", "float64",
    };
    return type < GGUF_VALUE_TYPE_COUNT ? names[type] : "unknown";
}

/* Smallest number of bytes one element of this type takes in the file. */
static uint64_t min_element_size(uint32_t type)
{
    if (type == GGUF_STRING)
        return 8;
    if (type == GGUF_ARRAY)
        return 12;
    return scalar_size(type);
}

static int check_value_type(struct reader *r, uint32_t type)
{
    if (type < GGUF_VALUE_TYPE_COUNT)
        return LLM_OK;
    return llm_fail(r->err, "%s: %s has value type %u, expected one of 0..%d (corrupt file?)", r->name, r->where,
                    type, GGUF_VALUE_TYPE_COUNT - 1);
}

/* Validates and skips n array elements of a type; nested arrays recurse up to MAX_ARRAY_DEPTH. */
static int skip_array(struct reader *r, uint32_t type, uint64_t n, int depth)
{
    uint64_t i, min = min_element_size(type), remaining = r->size - r->pos;

    if (check_value_type(r, type) != LLM_OK)
        return LLM_ERR;
    if (depth > MAX_ARRAY_DEPTH)
        return llm_fail(r->err, "%s: %s nests arrays %d deep, expected at most %d", r->name, r->where, depth,
                        MAX_ARRAY_DEPTH);
    if (n > remaining / min) {
        note_cut(r, n > UINT64_MAX / min ? UINT64_MAX : n * min);
        return llm_fail(r->err,
                        "%s: %s claims %llu elements of %s (at least %llu bytes each) but only %llu bytes remain "
                        "(corrupt or truncated file?)",
                        r->name, r->where, (unsigned long long)n, gguf_value_type_name(type),
                        (unsigned long long)min, (unsigned long long)remaining);
    }
    if (type != GGUF_STRING && type != GGUF_ARRAY) {
        r->pos += n * min;
        return LLM_OK;
    }
    for (i = 0; i < n; i++) {
        if (type == GGUF_STRING) {
            gguf_str s;
            if (read_str(r, &s) != LLM_OK)
                return LLM_ERR;
        } else {
            uint32_t inner_type;
            uint64_t inner_n;
            if (read_u32(r, &inner_type) != LLM_OK || read_u64(r, &inner_n) != LLM_OK)
                return LLM_ERR;
            if (skip_array(r, inner_type, inner_n, depth + 1) != LLM_OK)
                return LLM_ERR;
        }
    }
    return LLM_OK;
}

static int read_value(struct reader *r, gguf_kv *kv)
{
    uint8_t b[8] = {0};
    uint64_t size;

    if (check_value_type(r, kv->type) != LLM_OK)
        return LLM_ERR;
    if (kv->type == GGUF_STRING)
        return read_str(r, &kv->v.s);
    if (kv->type == GGUF_ARRAY) {
        uint64_t start;
        if (read_u32(r, &kv->v.arr.type) != LLM_OK || read_u64(r, &kv->v.arr.n) != LLM_OK)
            return LLM_ERR;
        start = r->pos;
        if (skip_array(r, kv->v.arr.type, kv->v.arr.n, 1) != LLM_OK)
            return LLM_ERR;
        kv->v.arr.data = r->base + start;
        kv->v.arr.n_bytes = r->pos - start;
        return LLM_OK;
    }
    size = scalar_size(kv->type);
    if (read_bytes(r, b, size) != LLM_OK)
        return LLM_ERR;
    kv->v.u = 0;
    memcpy(&kv->v.u, b, 8); /* little-endian host assumed; see NOTE in gguf_open */
    switch (kv->type) {
    case GGUF_INT8:
        kv->v.i = (int8_t)b[0];
        break;
    case GGUF_INT16:
        kv->v.i = (int16_t)(b[0] | b[1] << 8);
        break;
    case GGUF_INT32:
        kv->v.i = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
        break;
    case GGUF_FLOAT32: {
        float f;
        memcpy(&f, b, 4);
        kv->v.f = f;
        break;
    }
    case GGUF_FLOAT64: {
        double d;
        memcpy(&d, b, 8);
        kv->v.f = d;
        break;
    }
    case GGUF_BOOL:
        if (b[0] > 1)
            return llm_fail(r->err, "%s: %s is a bool with value %u, expected 0 or 1", r->name, r->where, b[0]);
        break;
    default:
        break;
    }
    return LLM_OK;
}

static int compare_str(gguf_str a, gguf_str b)
{
    uint64_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, (size_t)n) : 0;

    if (c != 0)
        return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

static int compare_kv_keys(const void *a, const void *b)
{
    return compare_str((*(const gguf_kv *const *)a)->key, (*(const gguf_kv *const *)b)->key);
}

static int compare_tensor_names(const void *a, const void *b)
{
    return compare_str((*(const gguf_tensor *const *)a)->name, (*(const gguf_tensor *const *)b)->name);
}

static int compare_tensor_offsets(const void *a, const void *b)
{
    uint64_t x = (*(const gguf_tensor *const *)a)->offset, y = (*(const gguf_tensor *const *)b)->offset;
    return x < y ? -1 : x > y;
}

/* Prints at most 64 bytes of a name from the file, escaping what is not printable ASCII. */
static const char *printable(gguf_str s, char *buf, size_t cap)
{
    size_t o = 0;
    uint64_t i;

    for (i = 0; i < s.len && o + 5 < cap && i < 64; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c >= 0x20 && c < 0x7f)
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    }
    if (i < s.len && o + 4 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = 0;
    return buf;
}

/* Sorts pointers to the pairs by key and rejects the first repeated key. */
static int check_duplicate_keys(const gguf_file *f, llm_error *err)
{
    const gguf_kv **sorted;
    uint64_t i;
    int status = LLM_OK;
    char buf[300];

    if (f->n_kv < 2)
        return LLM_OK;
    sorted = malloc((size_t)f->n_kv * sizeof *sorted);
    if (!sorted)
        return llm_fail(err, "%s: out of memory indexing %llu metadata keys", f->name, (unsigned long long)f->n_kv);
    for (i = 0; i < f->n_kv; i++)
        sorted[i] = &f->kv[i];
    qsort(sorted, (size_t)f->n_kv, sizeof *sorted, compare_kv_keys);
    for (i = 1; i < f->n_kv && status == LLM_OK; i++) {
        if (compare_str(sorted[i - 1]->key, sorted[i]->key) == 0)
            status = llm_fail(err, "%s: metadata key '%s' appears more than once, expected each key once", f->name,
                              printable(sorted[i]->key, buf, sizeof buf));
    }
    free(sorted);
    return status;
}

static int check_tensor_names_and_overlap(const gguf_file *f, llm_error *err)
{
    const gguf_tensor **sorted;
    uint64_t i;
    int status = LLM_OK;
    char a[300], b[300];

    if (f->n_tensors < 2)
        return LLM_OK;
    sorted = malloc((size_t)f->n_tensors * sizeof *sorted);
    if (!sorted)
        return llm_fail(err, "%s: out of memory indexing %llu tensors", f->name, (unsigned long long)f->n_tensors);
    for (i = 0; i < f->n_tensors; i++)
        sorted[i] = &f->tensors[i];
    qsort(sorted, (size_t)f->n_tensors, sizeof *sorted, compare_tensor_names);
    for (i = 1; i < f->n_tensors && status == LLM_OK; i++) {
        if (compare_str(sorted[i - 1]->name, sorted[i]->name) == 0)
            status = llm_fail(err, "%s: tensor '%s' appears more than once, expected each name once", f->name,
                              printable(sorted[i]->name, a, sizeof a));
    }
    qsort(sorted, (size_t)f->n_tensors, sizeof *sorted, compare_tensor_offsets);
    for (i = 1; i < f->n_tensors && status == LLM_OK; i++) {
        const gguf_tensor *prev = sorted[i - 1], *cur = sorted[i];
        if (prev->offset + prev->n_bytes > cur->offset)
            status = llm_fail(err,
                              "%s: tensor '%s' (bytes %llu..%llu of the data section) overlaps tensor '%s' "
                              "(from byte %llu), expected disjoint tensor data",
                              f->name, printable(prev->name, a, sizeof a), (unsigned long long)prev->offset,
                              (unsigned long long)(prev->offset + prev->n_bytes), printable(cur->name, b, sizeof b),
                              (unsigned long long)cur->offset);
    }
    free(sorted);
    return status;
}

static int read_header(struct reader *r, gguf_file *f)
{
    uint8_t magic[4];

    snprintf(r->where, sizeof r->where, "the header");
    if (r->size < 4 && r->file_size >= 4) {
        note_cut(r, 4);
        return llm_fail(r->err, "%s: only %llu bytes of the header are at hand", r->name, (unsigned long long)r->size);
    }
    if (r->size == 0)
        return llm_fail(r->err, "%s: the file is empty, expected a GGUF file", r->name);
    if (r->size < 4 || memcmp(r->base, GGUF_MAGIC, 4) != 0) {
        char shown[32] = "";
        size_t i, o = 0;
        for (i = 0; i < 4 && i < r->size; i++)
            o += (size_t)snprintf(shown + o, sizeof shown - o, "%s%02x", i ? " " : "", r->base[i]);
        return llm_fail(r->err, "%s: not a GGUF file (first bytes %s, expected 'GGUF')", r->name, shown);
    }
    if (read_bytes(r, magic, 4) != LLM_OK || read_u32(r, &f->version) != LLM_OK)
        return LLM_ERR;
    if (f->version != 2 && f->version != 3) {
        return llm_fail(r->err, "%s: GGUF version %u is not supported, expected 2 or 3%s", r->name, f->version,
                        f->version == 1 ? " (version 1 files predate August 2023: convert the model again)"
                        : (f->version & 0xffff) == 0 ? " (a big-endian file? only little-endian files are read)"
                                                     : "");
    }
    if (read_u64(r, &f->n_tensors) != LLM_OK || read_u64(r, &f->n_kv) != LLM_OK)
        return LLM_ERR;

    /* The smallest metadata pair takes 13 bytes and the smallest tensor info 28, which bounds both counts. */
    if (f->n_kv > (r->file_size - r->pos) / 13)
        return llm_fail(r->err, "%s: header claims %llu metadata pairs but the file has room for at most %llu",
                        r->name, (unsigned long long)f->n_kv, (unsigned long long)((r->file_size - r->pos) / 13));
    if (f->n_tensors > (r->file_size - r->pos) / 28)
        return llm_fail(r->err, "%s: header claims %llu tensors but the file has room for at most %llu", r->name,
                        (unsigned long long)f->n_tensors, (unsigned long long)((r->file_size - r->pos) / 28));
    return LLM_OK;
}

static int read_metadata(struct reader *r, gguf_file *f)
{
    uint64_t i;
    char buf[300];

    f->kv = calloc(f->n_kv ? (size_t)f->n_kv : 1, sizeof *f->kv);
    if (!f->kv)
        return llm_fail(r->err, "%s: out of memory for %llu metadata pairs", r->name, (unsigned long long)f->n_kv);
    for (i = 0; i < f->n_kv; i++) {
        gguf_kv *kv = &f->kv[i];
        snprintf(r->where, sizeof r->where, "the key of metadata pair %llu of %llu", (unsigned long long)i + 1,
                 (unsigned long long)f->n_kv);
        if (read_str(r, &kv->key) != LLM_OK)
            return LLM_ERR;
        snprintf(r->where, sizeof r->where, "metadata '%s'", printable(kv->key, buf, 100));
        if (read_u32(r, &kv->type) != LLM_OK || read_value(r, kv) != LLM_OK)
            return LLM_ERR;
    }
    return check_duplicate_keys(f, r->err);
}

static int read_alignment(struct reader *r, gguf_file *f)
{
    const gguf_kv *kv = gguf_find(f, "general.alignment");

    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    if (!kv)
        return LLM_OK;
    if (kv->type != GGUF_UINT32)
        return llm_fail(r->err, "%s: general.alignment has type %s, expected uint32", r->name,
                        gguf_value_type_name(kv->type));
    if (kv->v.u == 0 || (kv->v.u & (kv->v.u - 1)) != 0)
        return llm_fail(r->err, "%s: general.alignment is %llu, expected a power of two", r->name,
                        (unsigned long long)kv->v.u);
    f->alignment = kv->v.u;
    return LLM_OK;
}

static int read_tensor_info(struct reader *r, gguf_file *f, gguf_tensor *t, uint64_t index)
{
    const llm_type_info *info;
    uint64_t d, n_elements = 1, n_rows, n_blocks;
    char name[300];

    snprintf(r->where, sizeof r->where, "the name of tensor %llu of %llu", (unsigned long long)index + 1,
             (unsigned long long)f->n_tensors);
    if (read_str(r, &t->name) != LLM_OK)
        return LLM_ERR;
    printable(t->name, name, 100);
    snprintf(r->where, sizeof r->where, "tensor info '%s'", name);
    if (read_u32(r, &t->n_dims) != LLM_OK)
        return LLM_ERR;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return llm_fail(r->err, "%s: tensor '%s' has %u dimensions, expected 1 to %d", r->name, name, t->n_dims,
                        GGUF_MAX_DIMS);
    for (d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d < t->n_dims && read_u64(r, &t->ne[d]) != LLM_OK)
            return LLM_ERR;
        if (t->ne[d] == 0 || t->ne[d] > (uint64_t)INT64_MAX / n_elements)
            return llm_fail(r->err,
                            "%s: tensor '%s' has dimension %llu of size %llu, which makes the element count "
                            "zero or overflow 63 bits",
                            r->name, name, (unsigned long long)d, (unsigned long long)t->ne[d]);
        n_elements *= t->ne[d];
    }
    if (read_u32(r, &t->type) != LLM_OK || read_u64(r, &t->offset) != LLM_OK)
        return LLM_ERR;

    info = llm_type_get(t->type);
    if (t->type >= LLM_TYPE_COUNT)
        return llm_fail(r->err, "%s: tensor '%s' has unknown type %u (supported: %s)", r->name, name, t->type,
                        llm_type_supported_list());
    if (!info || !info->readable)
        return llm_fail(r->err, "%s: tensor '%s' has type %s, which this build cannot read (supported: %s)", r->name,
                        name, llm_type_name(t->type), llm_type_supported_list());
    if (t->ne[0] % (uint64_t)info->block_size != 0)
        return llm_fail(r->err, "%s: tensor '%s' has rows of %llu elements, expected a multiple of %d for type %s",
                        r->name, name, (unsigned long long)t->ne[0], info->block_size, info->name);
    n_rows = n_elements / t->ne[0];
    /* Bounding the row by the file size first keeps n_bytes from wrapping (2^62 F32 elements are 2^64 bytes). */
    n_blocks = t->ne[0] / (uint64_t)info->block_size;
    if (n_blocks > r->file_size / (uint64_t)info->type_size)
        return llm_fail(r->err, "%s: tensor '%s' has rows of %llu elements of %s, more than the whole file holds",
                        r->name, name, (unsigned long long)t->ne[0], info->name);
    t->n_bytes = n_blocks * (uint64_t)info->type_size;
    if (n_rows > r->file_size / t->n_bytes)
        return llm_fail(r->err, "%s: tensor '%s' claims %llu rows of %llu bytes, more than the whole file holds",
                        r->name, name, (unsigned long long)n_rows, (unsigned long long)t->n_bytes);
    t->n_bytes *= n_rows;
    if (t->offset % f->alignment != 0)
        return llm_fail(r->err, "%s: tensor '%s' starts at data offset %llu, expected a multiple of the alignment %llu",
                        r->name, name, (unsigned long long)t->offset, (unsigned long long)f->alignment);
    return LLM_OK;
}

static int place_tensors(struct reader *r, gguf_file *f)
{
    uint64_t i, data_bytes;
    char name[300];

    /* The data section starts at the next multiple of the alignment after the tensor infos. */
    f->data_offset = r->pos;
    if (f->data_offset % f->alignment)
        f->data_offset += f->alignment - f->data_offset % f->alignment;
    if (f->n_tensors == 0)
        return LLM_OK;
    if (f->data_offset > r->file_size)
        return llm_fail(r->err, "%s: tensor data should start at byte %llu but the file has %llu bytes (truncated?)",
                        r->name, (unsigned long long)f->data_offset, (unsigned long long)r->file_size);
    data_bytes = r->file_size - f->data_offset;
    for (i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        if (t->offset > data_bytes)
            return llm_fail(r->err,
                            "%s: tensor '%s' starts at data offset %llu but the data section has %llu bytes "
                            "(truncated download?)",
                            r->name, printable(t->name, name, 100), (unsigned long long)t->offset,
                            (unsigned long long)data_bytes);
        if (t->n_bytes > data_bytes - t->offset)
            return llm_fail(r->err,
                            "%s: tensor '%s' ends at byte %llu but the file has %llu bytes (truncated download?)",
                            r->name, printable(t->name, name, 100),
                            (unsigned long long)(f->data_offset + t->offset + t->n_bytes),
                            (unsigned long long)r->file_size);
        /* With only the header at hand (gguf_open_header) the data is not there to point at. */
        t->data = r->size == r->file_size ? r->base + f->data_offset + t->offset : NULL;
    }
    return check_tensor_names_and_overlap(f, r->err);
}

static int open_part(gguf_file *f, const void *bytes, size_t n_bytes, uint64_t file_bytes, const char *name,
                     llm_error *err)
{
    struct reader r;
    uint64_t i;

    /* NOTE: values are decoded as little-endian; the targets (x86-64, arm64, wasm32) all are. */
    memset(f, 0, sizeof *f);
    memset(&r, 0, sizeof r);
    f->name = name ? name : "model";
    f->bytes = bytes;
    f->n_bytes = n_bytes;
    r.base = bytes;
    r.size = n_bytes;
    r.file_size = file_bytes;
    r.name = f->name;
    r.err = err;

    if (read_header(&r, f) != LLM_OK || read_metadata(&r, f) != LLM_OK || read_alignment(&r, f) != LLM_OK)
        goto fail;
    f->tensors = calloc(f->n_tensors ? (size_t)f->n_tensors : 1, sizeof *f->tensors);
    if (!f->tensors) {
        llm_fail(err, "%s: out of memory for %llu tensor infos", f->name, (unsigned long long)f->n_tensors);
        goto fail;
    }
    for (i = 0; i < f->n_tensors; i++) {
        if (read_tensor_info(&r, f, &f->tensors[i], i) != LLM_OK)
            goto fail;
    }
    if (place_tensors(&r, f) != LLM_OK)
        goto fail;
    return LLM_OK;

fail:
    gguf_close(f);
    return r.more ? GGUF_MORE : LLM_ERR;
}

int gguf_open(gguf_file *f, const void *bytes, size_t n_bytes, const char *name, llm_error *err)
{
    return open_part(f, bytes, n_bytes, n_bytes, name, err);
}

int gguf_open_header(gguf_file *f, const void *bytes, size_t n_loaded, uint64_t file_bytes, const char *name,
                     llm_error *err)
{
    if (n_loaded > file_bytes)
        n_loaded = (size_t)file_bytes;
    return open_part(f, bytes, n_loaded, file_bytes, name, err);
}

void gguf_close(gguf_file *f)
{
    free(f->kv);
    free(f->tensors);
    f->kv = NULL;
    f->tensors = NULL;
    f->n_kv = 0;
    f->n_tensors = 0;
}

int gguf_str_eq(gguf_str s, const char *text)
{
    size_t n = strlen(text);
    return s.len == n && memcmp(s.ptr, text, n) == 0;
}

const gguf_kv *gguf_find(const gguf_file *f, const char *key)
{
    uint64_t i;

    for (i = 0; i < f->n_kv; i++) {
        if (gguf_str_eq(f->kv[i].key, key))
            return &f->kv[i];
    }
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name)
{
    uint64_t i;

    for (i = 0; i < f->n_tensors; i++) {
        if (gguf_str_eq(f->tensors[i].name, name))
            return &f->tensors[i];
    }
    return NULL;
}

static int is_unsigned(uint32_t type)
{
    return type == GGUF_UINT8 || type == GGUF_UINT16 || type == GGUF_UINT32 || type == GGUF_UINT64;
}

static int is_signed(uint32_t type)
{
    return type == GGUF_INT8 || type == GGUF_INT16 || type == GGUF_INT32 || type == GGUF_INT64;
}

static const gguf_kv *find_required(const gguf_file *f, const char *key, llm_error *err)
{
    const gguf_kv *kv = gguf_find(f, key);

    if (!kv)
        llm_fail(err, "%s: metadata key '%s' is missing", f->name, key);
    return kv;
}

int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out, llm_error *err)
{
    const gguf_kv *kv = find_required(f, key, err);

    if (!kv)
        return LLM_ERR;
    if (is_unsigned(kv->type) && kv->v.u <= UINT32_MAX) {
        *out = (uint32_t)kv->v.u;
        return LLM_OK;
    }
    if (is_signed(kv->type) && kv->v.i >= 0 && kv->v.i <= (int64_t)UINT32_MAX) {
        *out = (uint32_t)kv->v.i;
        return LLM_OK;
    }
    if (is_unsigned(kv->type) || is_signed(kv->type))
        return llm_fail(err, "%s: metadata '%s' is %lld, expected 0 to %lu", f->name, key,
                        is_signed(kv->type) ? (long long)kv->v.i : (long long)kv->v.u, (unsigned long)UINT32_MAX);
    return llm_fail(err, "%s: metadata '%s' has type %s, expected an integer", f->name, key,
                    gguf_value_type_name(kv->type));
}

int gguf_get_f64(const gguf_file *f, const char *key, double *out, llm_error *err)
{
    const gguf_kv *kv = find_required(f, key, err);

    if (!kv)
        return LLM_ERR;
    if (kv->type == GGUF_FLOAT32 || kv->type == GGUF_FLOAT64) {
        *out = kv->v.f;
        return LLM_OK;
    }
    return llm_fail(err, "%s: metadata '%s' has type %s, expected float32 or float64", f->name, key,
                    gguf_value_type_name(kv->type));
}

int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out, llm_error *err)
{
    const gguf_kv *kv = find_required(f, key, err);

    if (!kv)
        return LLM_ERR;
    if (kv->type != GGUF_STRING)
        return llm_fail(err, "%s: metadata '%s' has type %s, expected string", f->name, key,
                        gguf_value_type_name(kv->type));
    *out = kv->v.s;
    return LLM_OK;
}

void gguf_array_strings(const gguf_kv *kv, gguf_str *out)
{
    const uint8_t *p = kv->v.arr.data;
    uint64_t i, len;

    for (i = 0; i < kv->v.arr.n; i++) {
        memcpy(&len, p, 8);
        out[i].ptr = (const char *)p + 8;
        out[i].len = len;
        p += 8 + len;
    }
}

double gguf_array_f64(const gguf_kv *kv, uint64_t i)
{
    const uint8_t *p = kv->v.arr.data + i * scalar_size(kv->v.arr.type);
    float f;
    double d;

    if (kv->v.arr.type == GGUF_FLOAT32) {
        memcpy(&f, p, 4);
        return f;
    }
    if (kv->v.arr.type == GGUF_FLOAT64) {
        memcpy(&d, p, 8);
        return d;
    }
    return (double)gguf_array_i64(kv, i);
}

int64_t gguf_array_i64(const gguf_kv *kv, uint64_t i)
{
    const uint8_t *p = kv->v.arr.data + i * scalar_size(kv->v.arr.type);
    uint64_t u = 0;

    switch (kv->v.arr.type) {
    case GGUF_UINT8:
    case GGUF_BOOL:
        return p[0];
    case GGUF_INT8:
        return (int8_t)p[0];
    case GGUF_UINT16:
        return (uint16_t)(p[0] | p[1] << 8);
    case GGUF_INT16:
        return (int16_t)(p[0] | p[1] << 8);
    case GGUF_UINT32:
        memcpy(&u, p, 4);
        return (int64_t)u;
    case GGUF_INT32:
        memcpy(&u, p, 4);
        return (int32_t)(uint32_t)u;
    case GGUF_UINT64:
    case GGUF_INT64:
        memcpy(&u, p, 8);
        return (int64_t)u;
    default:
        return 0; /* float arrays go through gguf_array_f64 */
    }
}
