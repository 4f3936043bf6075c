/* Helpers shared by the libFuzzer targets: an invariant check that aborts (so that libFuzzer
 * records the input as a crash), a reader that turns the fuzzer's bytes into small values and
 * strings, and the split of an input into environment and command line. */
#ifndef KPA_TESTS_FUZZ_H
#define KPA_TESTS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A broken invariant is a finding: print what broke and abort, which libFuzzer reports as a
 * crash and saves the input for. */
#define FUZZ_CHECK(cond, ...)                                                                   \
        do {                                                                                    \
                if (!(cond)) {                                                                  \
                        fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__, __LINE__,  \
                                #cond);                                                         \
                        fprintf(stderr, __VA_ARGS__);                                           \
                        fputc('\n', stderr);                                                    \
                        abort();                                                                \
                }                                                                               \
        } while (0)

static inline void *fz_alloc(size_t n) {
        void *p = calloc(1, n ? n : 1);
        if (!p)
                abort();
        return p;
}

/* Reads values front to back; once the bytes run out every read returns zeros or "", so a
 * short input still builds a complete (small) structure. */
struct fz {
        const uint8_t *p;
        size_t n;
};

static inline uint8_t fz_u8(struct fz *f) {
        if (f->n == 0)
                return 0;
        f->n--;
        return *f->p++;
}

static inline bool fz_bool(struct fz *f) { return fz_u8(f) & 1; }

static inline uint32_t fz_u32(struct fz *f) {
        uint32_t v = 0;
        for (int i = 0; i < 4; i++)
                v = (v << 8) | fz_u8(f);
        return v;
}

static inline uint64_t fz_u64(struct fz *f) {
        return ((uint64_t) fz_u32(f) << 32) | fz_u32(f);
}

/* A value in [lo, hi] (hi - lo < 2^32), from as few bytes as the range needs. */
static inline int64_t fz_range(struct fz *f, int64_t lo, int64_t hi) {
        uint64_t span = (uint64_t) (hi - lo);
        uint64_t v = 0;
        for (uint64_t s = span; s > 0; s >>= 8)
                v = (v << 8) | fz_u8(f);
        return span == UINT64_MAX ? (int64_t) v : lo + (int64_t) (v % (span + 1));
}

/* A string of at most max bytes, ended by a lone backslash in the input ("\\\\" stands for one
 * backslash), as LLVM's FuzzedDataProvider does it: a mutation that changes one byte changes
 * one character, not every later length. NUL bytes are dropped. The caller frees. */
static inline char *fz_str(struct fz *f, size_t max) {
        char *s = fz_alloc(max + 1);
        size_t len = 0;
        while (f->n > 0 && len < max) {
                char c = (char) fz_u8(f);
                if (c == '\\' && f->n > 0) {
                        c = (char) fz_u8(f);
                        if (c != '\\')
                                break;
                }
                if (c != '\0')
                        s[len++] = c;
        }
        s[len] = '\0';
        return s;
}

/* The rest of the input as one NUL-terminated copy (it may hold NULs of its own). */
static inline char *fz_rest(struct fz *f, size_t *ret_len) {
        char *s = fz_alloc(f->n + 1);
        memcpy(s, f->p, f->n);
        s[f->n] = '\0';
        *ret_len = f->n;
        f->p += f->n;
        f->n = 0;
        return s;
}

/* An input for a program's configuration: NUL-separated strings, the environment first, then
 * an empty string, then the command-line arguments after argv[0], then optionally another
 * empty string and a "file" (everything after it, verbatim):
 *     KPA_X=1 \0 KPA_Y=2 \0 \0 --flag \0 value \0 \0 file bytes...
 * Each list is bounded so that no input makes a target slow for its size. */
#define FZ_CMDLINE_MAX 64

struct fz_cmdline {
        char *buf;               /* the input's copy; every string points into it */
        char *envp[FZ_CMDLINE_MAX + 1];
        char *argv[FZ_CMDLINE_MAX + 2];
        int argc;
        const char *file;        /* NULL when the input has no third part */
        size_t file_len;
};

static inline void fz_cmdline_split(const uint8_t *data, size_t size, struct fz_cmdline *c) {
        static char prog[] = "prog";
        memset(c, 0, sizeof *c);
        c->buf = fz_alloc(size + 1);
        memcpy(c->buf, data, size);
        c->buf[size] = '\0';
        c->argv[0] = prog;
        c->argc = 1;
        size_t nenv = 0;
        int part = 0;
        size_t i = 0;
        while (i < size && part < 2) {
                char *s = c->buf + i;
                size_t len = strnlen(s, size - i);
                if (len == 0) {
                        part++;
                } else if (part == 0 && nenv < FZ_CMDLINE_MAX) {
                        c->envp[nenv++] = s;
                } else if (part == 1 && c->argc <= FZ_CMDLINE_MAX) {
                        c->argv[c->argc++] = s;
                }
                i += len + 1;
        }
        if (part == 2) {
                c->file = c->buf + (i < size ? i : size);
                c->file_len = i < size ? size - i : 0;
        }
        c->envp[nenv] = NULL;
        c->argv[c->argc] = NULL;
}

static inline void fz_cmdline_free(struct fz_cmdline *c) {
        free(c->buf);
        c->buf = NULL;
}

/* Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF). */
static inline bool fz_utf8_valid(const char *str) {
        const unsigned char *s = (const unsigned char *) str;
        size_t n = strlen(str), i = 0;
        while (i < n) {
                unsigned char c = s[i];
                size_t extra;
                unsigned char lo = 0x80, hi = 0xBF;
                if (c < 0x80) {
                        i++;
                        continue;
                } else if (c >= 0xC2 && c <= 0xDF) {
                        extra = 1;
                } else if (c >= 0xE0 && c <= 0xEF) {
                        extra = 2;
                        lo = c == 0xE0 ? 0xA0 : 0x80;
                        hi = c == 0xED ? 0x9F : 0xBF;
                } else if (c >= 0xF0 && c <= 0xF4) {
                        extra = 3;
                        lo = c == 0xF0 ? 0x90 : 0x80;
                        hi = c == 0xF4 ? 0x8F : 0xBF;
                } else {
                        return false;
                }
                if (n - i <= extra || s[i + 1] < lo || s[i + 1] > hi)
                        return false;
                for (size_t k = 2; k <= extra; k++)
                        if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                                return false;
                i += extra + 1;
        }
        return true;
}

#endif
