/*
 * json.c - recursive-descent JSON reader for the tests, described in json.h.
 *
 * Strict: no comments, no trailing commas, no leading zeros or bare '.',
 * no unescaped control characters in strings. String bytes other than
 * escapes are copied as they are, without UTF-8 validation.
 */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum json_kind { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_value {
    enum json_kind kind;
    double number;
    char *string; /* decoded bytes of a JSON_STRING */
    size_t len;
    json_value *items; /* JSON_ARRAY elements, or JSON_OBJECT member values */
    char **keys;       /* JSON_OBJECT member keys, NUL-terminated */
    size_t *key_lens;
    size_t n;
};

/* Deeper nesting is rejected rather than risking the stack. */
#define MAX_DEPTH 256

struct parser {
    const char *s;
    size_t n, pos;
};

static void skip_space(struct parser *p)
{
    while (p->pos < p->n) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static int parse_value(struct parser *p, json_value *out, int depth);

static void free_contents(json_value *v)
{
    size_t i;

    free(v->string);
    for (i = 0; i < v->n; i++) {
        free_contents(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->key_lens);
}

static int match_word(struct parser *p, const char *word)
{
    size_t len = strlen(word);

    if (p->n - p->pos < len || memcmp(p->s + p->pos, word, len) != 0)
        return 0;
    p->pos += len;
    return 1;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* number = [ "-" ] int [ frac ] [ exp ], checked by the grammar before strtod converts it. */
static int parse_number(struct parser *p, json_value *out)
{
    size_t start = p->pos, i = p->pos;
    char *copy, *end;

    if (i < p->n && p->s[i] == '-')
        i++;
    if (i < p->n && p->s[i] == '0') {
        i++;
    } else if (i < p->n && is_digit(p->s[i])) {
        while (i < p->n && is_digit(p->s[i]))
            i++;
    } else {
        return 0;
    }
    if (i < p->n && p->s[i] == '.') {
        i++;
        if (i >= p->n || !is_digit(p->s[i]))
            return 0;
        while (i < p->n && is_digit(p->s[i]))
            i++;
    }
    if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
        i++;
        if (i < p->n && (p->s[i] == '+' || p->s[i] == '-'))
            i++;
        if (i >= p->n || !is_digit(p->s[i]))
            return 0;
        while (i < p->n && is_digit(p->s[i]))
            i++;
    }
    /* strtod needs a terminated copy because the input need not be NUL-terminated. */
    copy = malloc(i - start + 1);
    if (!copy)
        return 0;
    memcpy(copy, p->s + start, i - start);
    copy[i - start] = 0;
    out->kind = JSON_NUMBER;
    out->number = strtod(copy, &end);
    free(copy);
    p->pos = i;
    return 1;
}

static int parse_hex4(struct parser *p, uint32_t *out)
{
    uint32_t v = 0;
    size_t k;

    if (p->n - p->pos < 4)
        return 0;
    for (k = 0; k < 4; k++) {
        char c = p->s[p->pos + k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return 0;
    }
    p->pos += 4;
    *out = v;
    return 1;
}

static size_t put_utf8(uint32_t cp, char *out)
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

/* Decodes the escape after a backslash into out. Returns its byte count, or 0 if it is invalid. */
static size_t parse_escape(struct parser *p, char *out)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit;
    uint32_t cp, low;
    char c;

    if (p->pos >= p->n)
        return 0;
    c = p->s[p->pos++];
    if (c != 'u') {
        hit = c ? strchr(from, c) : NULL;
        if (!hit)
            return 0;
        out[0] = to[hit - from];
        return 1;
    }
    if (!parse_hex4(p, &cp))
        return 0;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        size_t save = p->pos;
        if (p->n - p->pos >= 2 && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u') {
            p->pos += 2;
            if (parse_hex4(p, &low) && low >= 0xDC00 && low <= 0xDFFF)
                return put_utf8(0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00), out);
        }
        p->pos = save; /* a lone high surrogate, so what follows is read on its own */
        cp = 0xFFFD;
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        cp = 0xFFFD;
    }
    return put_utf8(cp, out);
}

static int parse_string_bytes(struct parser *p, char **out, size_t *out_len)
{
    size_t cap, len = 0, start;
    char *buf;

    if (p->pos >= p->n || p->s[p->pos] != '"')
        return 0;
    start = ++p->pos;
    /* The decoded string is never longer than its source, plus room for a NUL. */
    while (p->pos < p->n && p->s[p->pos] != '"')
        p->pos += p->s[p->pos] == '\\' ? 2 : 1;
    if (p->pos >= p->n)
        return 0;
    cap = p->pos - start + 1;
    p->pos = start;
    buf = malloc(cap);
    if (!buf)
        return 0;
    while (p->pos < p->n) {
        unsigned char c = (unsigned char)p->s[p->pos++];
        if (c == '"') {
            buf[len] = 0;
            *out = buf;
            *out_len = len;
            return 1;
        }
        if (c < 0x20)
            break;
        if (c == '\\') {
            size_t k = parse_escape(p, buf + len);
            if (k == 0)
                break;
            len += k;
            continue;
        }
        buf[len++] = (char)c;
    }
    free(buf);
    return 0;
}

static int append_item(json_value *v, size_t *cap, const json_value *item, char *key, size_t key_len)
{
    if (v->n == *cap) {
        size_t new_cap = *cap ? 2 * *cap : 8;
        json_value *items = realloc(v->items, new_cap * sizeof *items);
        if (!items)
            return 0;
        v->items = items;
        if (v->kind == JSON_OBJECT) {
            char **keys = realloc(v->keys, new_cap * sizeof *keys);
            size_t *lens;
            if (!keys)
                return 0;
            v->keys = keys;
            lens = realloc(v->key_lens, new_cap * sizeof *lens);
            if (!lens)
                return 0;
            v->key_lens = lens;
        }
        *cap = new_cap;
    }
    v->items[v->n] = *item;
    if (v->kind == JSON_OBJECT) {
        v->keys[v->n] = key;
        v->key_lens[v->n] = key_len;
    }
    v->n++;
    return 1;
}

/* Parses an array or object whose kind the caller has set in out->kind. */
static int parse_container(struct parser *p, json_value *out, int depth)
{
    char close = out->kind == JSON_ARRAY ? ']' : '}';
    size_t cap = 0;

    p->pos++;
    skip_space(p);
    if (p->pos < p->n && p->s[p->pos] == close) {
        p->pos++;
        return 1;
    }
    for (;;) {
        json_value item;
        char *key = NULL;
        size_t key_len = 0;

        skip_space(p);
        if (out->kind == JSON_OBJECT) {
            if (!parse_string_bytes(p, &key, &key_len))
                return 0;
            skip_space(p);
            if (p->pos >= p->n || p->s[p->pos] != ':') {
                free(key);
                return 0;
            }
            p->pos++;
        }
        memset(&item, 0, sizeof item);
        if (!parse_value(p, &item, depth + 1)) {
            free_contents(&item);
            free(key);
            return 0;
        }
        if (!append_item(out, &cap, &item, key, key_len)) {
            free_contents(&item);
            free(key);
            return 0;
        }
        skip_space(p);
        if (p->pos < p->n && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->n && p->s[p->pos] == close) {
            p->pos++;
            return 1;
        }
        return 0;
    }
}

static int parse_value(struct parser *p, json_value *out, int depth)
{
    char c;

    if (depth > MAX_DEPTH)
        return 0;
    skip_space(p);
    if (p->pos >= p->n)
        return 0;
    c = p->s[p->pos];
    switch (c) {
    case '{':
        out->kind = JSON_OBJECT;
        return parse_container(p, out, depth);
    case '[':
        out->kind = JSON_ARRAY;
        return parse_container(p, out, depth);
    case '"':
        out->kind = JSON_STRING;
        return parse_string_bytes(p, &out->string, &out->len);
    case 't':
        out->kind = JSON_TRUE;
        return match_word(p, "true");
    case 'f':
        out->kind = JSON_FALSE;
        return match_word(p, "false");
    case 'n':
        out->kind = JSON_NULL;
        return match_word(p, "null");
    default:
        return parse_number(p, out);
    }
}

json_value *json_parse(const char *text, size_t n)
{
    struct parser p;
    json_value *v;

    if (!text)
        return NULL;
    p.s = text;
    p.n = n;
    p.pos = 0;
    v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    if (!parse_value(&p, v, 0)) {
        json_free(v);
        return NULL;
    }
    skip_space(&p);
    if (p.pos != p.n) {
        json_free(v);
        return NULL;
    }
    return v;
}

void json_free(json_value *v)
{
    if (!v)
        return;
    free_contents(v);
    free(v);
}

const json_value *json_get(const json_value *object, const char *key)
{
    size_t i, len;

    if (!object || object->kind != JSON_OBJECT || !key)
        return NULL;
    len = strlen(key);
    for (i = 0; i < object->n; i++) {
        if (object->key_lens[i] == len && memcmp(object->keys[i], key, len) == 0)
            return &object->items[i];
    }
    return NULL;
}

size_t json_len(const json_value *array)
{
    return array && array->kind == JSON_ARRAY ? array->n : 0;
}

const json_value *json_at(const json_value *array, size_t i)
{
    return array && array->kind == JSON_ARRAY && i < array->n ? &array->items[i] : NULL;
}

double json_number(const json_value *v)
{
    if (v && v->kind == JSON_TRUE)
        return 1.0;
    return v && v->kind == JSON_NUMBER ? v->number : 0.0;
}

const char *json_string(const json_value *v, size_t *len)
{
    if (!v || v->kind != JSON_STRING) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = v->len;
    return v->string;
}

int json_is_null(const json_value *v)
{
    return v && v->kind == JSON_NULL;
}
