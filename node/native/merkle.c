/*
 * PacSpace node: a native accelerator for the OpenZeppelin StandardMerkleTree over
 * ["uint256", "bytes32"] leaves that node/core/merkle.py defines. The same bytes as the Python code
 * (tests/unit/test_merkle_native.py checks every function against it; test_merkle_native_buffers.py
 * beside it checks the buffer lengths), only faster.
 *
 *   leaf = keccak256(keccak256(abi.encode(uint256 startIndex + i, bytes32 fingerprint[i])))
 *   tree = 2n-1 nodes of 32 bytes; the leaves sorted ascending (equal hashes by value index, as
 *          Python's stable sort of indexes by leaf hash leaves them) fill it from the end backwards;
 *          node i has children 2i+1 and 2i+2 and is keccak256 of the two, smaller first.
 *
 * Keccak-256 as Ethereum uses it (the original Keccak padding, not SHA3-256's): Keccak-f[1600],
 * rate 136 bytes, capacity 512 bits, pad 0x01 .. 0x80, written from the Keccak reference and FIPS 202.
 * Lanes are read and written little-endian byte by byte, so the code is endian-neutral.
 *
 * Speed: every hash of a leaf or an inner node is independent of the others at its stage, so they
 * are computed four at a time with one Keccak state per 64-bit element of a 4-element vector (GCC
 * and Clang vector extensions). That code is compiled twice, for the baseline instruction set and
 * for AVX2, and the AVX2 copy is used when the CPU has it (checked at run time: the library is built
 * without -march=native and runs on any x86-64, or any other CPU with the portable copies). Work is
 * split over `threads` POSIX threads.
 *
 * Every entry point takes the byte length of each buffer it is given and checks it before it reads
 * or writes anything: a buffer too short for `n`, or an input whose length disagrees with `n`, is
 * refused with PACSPACE_ERR_BUFFER and nothing is written (a longer output buffer is fine: only its
 * first bytes are written). A NULL pointer must come with a length of 0.
 *
 * Built by node/native/build.py (run by scripts/bootstrap; cc -O3 -fPIC -shared -pthread) into
 * node/native/_build/, loaded with ctypes by node/native/loader.py; ctypes releases the GIL for the
 * duration of each call. `python -m node.native.build --sanitize` builds a copy with AddressSanitizer
 * and UBSan that scripts/test runs the native tests against.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* What node/native/loader.py checks before it uses a library (with the source hash below).
 * 2: every entry point takes its buffers' lengths; pacspace_keccak256 returns an int. */
#define PACSPACE_NATIVE_ABI 2

/* The entry points' return codes (node/native/loader.py maps each to a Python exception). */
#define PACSPACE_OK 0
#define PACSPACE_ERR_COUNT (-1)  /* n is 0 (for a tree) or 2^31 or more */
#define PACSPACE_ERR_MEMORY (-2) /* a scratch buffer could not be allocated */
#define PACSPACE_ERR_BUFFER (-3) /* a buffer is too short for n, or a length disagrees with n */

/* ---- Keccak-f[1600] ----------------------------------------------------------------------- */

static const uint64_t ROUND_CONSTANTS[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

#define RATE 136
#define PAD_FIRST 0x01ULL       /* the byte after the message */
#define PAD_LAST (0x80ULL << 56) /* the last byte of the rate: the high byte of lane RATE / 8 - 1 */

static inline uint64_t load64_le(const uint8_t *p) {
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline void store64_le(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* One round from lanes P (named P##xy for lane x, y, of any type T with ^ ~ & << >>) into lanes Q: theta (column parities c, d),
 * rho and pi together (B[y, 2x+3y] = rol(P[x, y] ^ d[x], r[x, y]), one row of B at a time), chi
 * (Q[x, y] = B[x, y] ^ (~B[x+1, y] & B[x+2, y])) and iota. The rotation offsets r[x, y] come from the
 * specification's rho walk. Plain local variables (no array indexing) let the compiler keep the
 * lanes in registers, and the same code serves one state (uint64_t) or four (a vector type). */
#define ROL(v, n) (((v) << (n)) | ((v) >> ((64 - (n)) & 63)))
#define ROUND(P, Q, rc) \
    c0 = P##00 ^ P##01 ^ P##02 ^ P##03 ^ P##04; c1 = P##10 ^ P##11 ^ P##12 ^ P##13 ^ P##14; c2 = P##20 ^ P##21 ^ P##22 ^ P##23 ^ P##24;  \
    c3 = P##30 ^ P##31 ^ P##32 ^ P##33 ^ P##34; c4 = P##40 ^ P##41 ^ P##42 ^ P##43 ^ P##44;                                              \
    d0 = c4 ^ ROL(c1, 1); d1 = c0 ^ ROL(c2, 1); d2 = c1 ^ ROL(c3, 1); d3 = c2 ^ ROL(c4, 1); d4 = c3 ^ ROL(c0, 1);                        \
    b0 = P##00 ^ d0; b1 = ROL(P##11 ^ d1, 44); b2 = ROL(P##22 ^ d2, 43); b3 = ROL(P##33 ^ d3, 21); b4 = ROL(P##44 ^ d4, 14);             \
    Q##00 = b0 ^ (~b1 & b2); Q##10 = b1 ^ (~b2 & b3); Q##20 = b2 ^ (~b3 & b4);                                                           \
    Q##30 = b3 ^ (~b4 & b0); Q##40 = b4 ^ (~b0 & b1);                                                                                    \
    b0 = ROL(P##30 ^ d3, 28); b1 = ROL(P##41 ^ d4, 20); b2 = ROL(P##02 ^ d0, 3); b3 = ROL(P##13 ^ d1, 45); b4 = ROL(P##24 ^ d2, 61);     \
    Q##01 = b0 ^ (~b1 & b2); Q##11 = b1 ^ (~b2 & b3); Q##21 = b2 ^ (~b3 & b4);                                                           \
    Q##31 = b3 ^ (~b4 & b0); Q##41 = b4 ^ (~b0 & b1);                                                                                    \
    b0 = ROL(P##10 ^ d1, 1); b1 = ROL(P##21 ^ d2, 6); b2 = ROL(P##32 ^ d3, 25); b3 = ROL(P##43 ^ d4, 8); b4 = ROL(P##04 ^ d0, 18);       \
    Q##02 = b0 ^ (~b1 & b2); Q##12 = b1 ^ (~b2 & b3); Q##22 = b2 ^ (~b3 & b4);                                                           \
    Q##32 = b3 ^ (~b4 & b0); Q##42 = b4 ^ (~b0 & b1);                                                                                    \
    b0 = ROL(P##40 ^ d4, 27); b1 = ROL(P##01 ^ d0, 36); b2 = ROL(P##12 ^ d1, 10); b3 = ROL(P##23 ^ d2, 15); b4 = ROL(P##34 ^ d3, 56);    \
    Q##03 = b0 ^ (~b1 & b2); Q##13 = b1 ^ (~b2 & b3); Q##23 = b2 ^ (~b3 & b4);                                                           \
    Q##33 = b3 ^ (~b4 & b0); Q##43 = b4 ^ (~b0 & b1);                                                                                    \
    b0 = ROL(P##20 ^ d2, 62); b1 = ROL(P##31 ^ d3, 55); b2 = ROL(P##42 ^ d4, 39); b3 = ROL(P##03 ^ d0, 41); b4 = ROL(P##14 ^ d1, 2);     \
    Q##04 = b0 ^ (~b1 & b2); Q##14 = b1 ^ (~b2 & b3); Q##24 = b2 ^ (~b3 & b4);                                                           \
    Q##34 = b3 ^ (~b4 & b0); Q##44 = b4 ^ (~b0 & b1);                                                                                    \
    Q##00 ^= (rc);

#define LANES(T, P)                                                                                 \
    T P##00, P##10, P##20, P##30, P##40, P##01, P##11, P##21, P##31, P##41, P##02, P##12, \
        P##22, P##32, P##42, P##03, P##13, P##23, P##33, P##43, P##04, P##14, P##24, P##34, P##44


/* The permutation over a state s[x + 5y] of lanes of type T (uint64_t, or a vector of them for
 * several states at once); two rounds per pass, from a-lanes to e-lanes and back. */
#define DEFINE_KECCAK_F1600(name, T, ATTR)                                            \
    ATTR static void name(T s[25]) {                                                  \
        LANES(T, a);                                                                  \
        LANES(T, e);                                                                  \
        T b0, b1, b2, b3, b4, c0, c1, c2, c3, c4, d0, d1, d2, d3, d4;                 \
        a00 = s[0], a10 = s[1], a20 = s[2], a30 = s[3], a40 = s[4];                   \
        a01 = s[5], a11 = s[6], a21 = s[7], a31 = s[8], a41 = s[9];                   \
        a02 = s[10], a12 = s[11], a22 = s[12], a32 = s[13], a42 = s[14];              \
        a03 = s[15], a13 = s[16], a23 = s[17], a33 = s[18], a43 = s[19];              \
        a04 = s[20], a14 = s[21], a24 = s[22], a34 = s[23], a44 = s[24];              \
        for (int round = 0; round < 24; round += 2) {                                 \
            ROUND(a, e, ROUND_CONSTANTS[round]);                                      \
            ROUND(e, a, ROUND_CONSTANTS[round + 1]);                                  \
        }                                                                             \
        s[0] = a00, s[1] = a10, s[2] = a20, s[3] = a30, s[4] = a40;                   \
        s[5] = a01, s[6] = a11, s[7] = a21, s[8] = a31, s[9] = a41;                   \
        s[10] = a02, s[11] = a12, s[12] = a22, s[13] = a32, s[14] = a42;              \
        s[15] = a03, s[16] = a13, s[17] = a23, s[18] = a33, s[19] = a43;              \
        s[20] = a04, s[21] = a14, s[22] = a24, s[23] = a34, s[24] = a44;              \
    }

DEFINE_KECCAK_F1600(keccak_f1600, uint64_t, )

static inline void squeeze32(const uint64_t s[25], uint8_t out[32]) {
    for (int i = 0; i < 4; i++) store64_le(out + 8 * i, s[i]);
}

/* keccak256 of exactly 64 bytes given as two 32-byte halves (one block: the padding is fixed). */
static void keccak256_64(const uint8_t *first, const uint8_t *second, uint8_t out[32]) {
    uint64_t s[25] = {0};
    for (int i = 0; i < 4; i++) s[i] = load64_le(first + 8 * i);
    for (int i = 0; i < 4; i++) s[4 + i] = load64_le(second + 8 * i);
    s[8] = PAD_FIRST;
    s[RATE / 8 - 1] = PAD_LAST;
    keccak_f1600(s);
    squeeze32(s, out);
}

static void keccak256_32(const uint8_t *in, uint8_t out[32]) {
    uint64_t s[25] = {0};
    for (int i = 0; i < 4; i++) s[i] = load64_le(in + 8 * i);
    s[4] = PAD_FIRST;
    s[RATE / 8 - 1] = PAD_LAST;
    keccak_f1600(s);
    squeeze32(s, out);
}

/* ---- buffer checks ------------------------------------------------------------------------- */

/* A buffer of `len` bytes at `p` holds exactly `count` items of `size` bytes (NULL only when empty). */
static int holds_exactly(const void *p, size_t len, size_t count, size_t size) {
    if (p == NULL && len != 0) return 0;
    return count <= SIZE_MAX / size && len == count * size;
}

/* A buffer of `len` bytes at `p` has room for `count` items of `size` bytes (NULL only when empty). */
static int has_room(const void *p, size_t len, size_t count, size_t size) {
    if (p == NULL && len != 0) return 0;
    return count <= len / size;
}

/* keccak256 of `len` bytes at `data` into out[0, 32) (the tests' known vectors; not on the hot path).
 * out_len >= 32, else PACSPACE_ERR_BUFFER. */
int pacspace_keccak256(const uint8_t *data, size_t len, uint8_t *out, size_t out_len) {
    if (!has_room(out, out_len, 1, 32) || (data == NULL && len != 0)) return PACSPACE_ERR_BUFFER;
    uint64_t s[25] = {0};
    uint8_t block[RATE];
    while (len >= RATE) {
        for (int i = 0; i < RATE / 8; i++) s[i] ^= load64_le(data + 8 * i);
        keccak_f1600(s);
        data += RATE;
        len -= RATE;
    }
    memset(block, 0, RATE);
    if (len) memcpy(block, data, len);
    block[len] ^= 0x01;
    block[RATE - 1] ^= 0x80; /* the same byte as 0x01 when len == RATE - 1: 0x81, as the rule says */
    for (int i = 0; i < RATE / 8; i++) s[i] ^= load64_le(block + 8 * i);
    keccak_f1600(s);
    squeeze32(s, out);
    return PACSPACE_OK;
}

/* ---- four hashes at once ------------------------------------------------------------------- */

typedef uint64_t v4u64 __attribute__((vector_size(32)));
typedef void (*hash64_x4_fn)(const uint8_t *const first[4], const uint8_t *const second[4], uint8_t *const out[4]);
typedef void (*hash32_x4_fn)(const uint8_t *const in[4], uint8_t *const out[4]);

#define X4_SUFFIX portable
#define X4_ATTR
#include "keccak_x4.h"
#undef X4_SUFFIX
#undef X4_ATTR

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2_COPY 1
#define X4_SUFFIX avx2
#define X4_ATTR __attribute__((target("avx2")))
#include "keccak_x4.h"
#undef X4_SUFFIX
#undef X4_ATTR
static int cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
}
#else
static int cpu_has_avx2(void) { return 0; }
#endif

/* 0: one hash at a time; 1: four at a time, baseline instructions; 2: four at a time, AVX2. */
enum { SIMD_NONE = 0, SIMD_PORTABLE = 1, SIMD_AVX2 = 2 };

typedef struct {
    int level;
    hash64_x4_fn hash64_x4;
    hash32_x4_fn hash32_x4;
} hasher;

static int best_level(void) { return cpu_has_avx2() ? SIMD_AVX2 : SIMD_PORTABLE; }

static int simd_level = -1;
static pthread_mutex_t simd_lock = PTHREAD_MUTEX_INITIALIZER;

/* The SIMD level in use: the best this CPU has unless pacspace_set_simd chose a lower one. */
int pacspace_simd(void) {
    pthread_mutex_lock(&simd_lock);
    if (simd_level < 0) simd_level = best_level();
    int level = simd_level;
    pthread_mutex_unlock(&simd_lock);
    return level;
}

/* Chooses a SIMD level (the tests compare them; -1 is the best); returns the one in use. */
int pacspace_set_simd(int level) {
    int best = best_level();
    pthread_mutex_lock(&simd_lock);
    simd_level = level < 0 || level > best ? best : level;
    level = simd_level;
    pthread_mutex_unlock(&simd_lock);
    return level;
}

static hasher current_hasher(void) {
    hasher h = {pacspace_simd(), hash64_x4_portable, hash32_x4_portable};
#ifdef HAVE_AVX2_COPY
    if (h.level == SIMD_AVX2) {
        h.hash64_x4 = hash64_x4_avx2;
        h.hash32_x4 = hash32_x4_avx2;
    }
#endif
    return h;
}

int pacspace_abi_version(void) { return PACSPACE_NATIVE_ABI; }

/* The build passes a hash of these sources (node/native/build.py), so a stale library is never used. */
#ifndef PACSPACE_SOURCE_HASH
#define PACSPACE_SOURCE_HASH "unknown"
#endif
const char *pacspace_source_hash(void) { return PACSPACE_SOURCE_HASH; }

/* ---- work split over threads --------------------------------------------------------------- */

typedef void (*range_fn)(void *ctx, size_t lo, size_t hi);

typedef struct {
    range_fn fn;
    void *ctx;
    size_t lo, hi;
} range_job;

static void *run_range(void *arg) {
    range_job *job = (range_job *)arg;
    job->fn(job->ctx, job->lo, job->hi);
    return NULL;
}

#define MAX_THREADS 64
/* Below this many hashes per thread a thread costs more than it saves. */
#define MIN_PER_THREAD 4096

/* fn over [0, count) in up to `threads` contiguous parts; the calling thread does the first part.
 * A part whose thread cannot be started runs here: the result never depends on the threads. */
static void parallel_for(range_fn fn, void *ctx, size_t count, int threads) {
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if ((size_t)threads > count / MIN_PER_THREAD) threads = (int)(count / MIN_PER_THREAD);
    if (threads <= 1) {
        fn(ctx, 0, count);
        return;
    }
    range_job jobs[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    int started[MAX_THREADS];
    for (int t = 0; t < threads; t++) {
        /* parts of a multiple of 4 items, so that only the last part has a scalar remainder */
        size_t lo = (count * (size_t)t / (size_t)threads) & ~(size_t)3;
        size_t hi = t + 1 == threads ? count : (count * (size_t)(t + 1) / (size_t)threads) & ~(size_t)3;
        jobs[t] = (range_job){fn, ctx, lo, hi};
    }
    for (int t = 1; t < threads; t++) started[t] = pthread_create(&ids[t], NULL, run_range, &jobs[t]) == 0;
    fn(ctx, jobs[0].lo, jobs[0].hi);
    for (int t = 1; t < threads; t++) {
        if (started[t])
            pthread_join(ids[t], NULL);
        else
            fn(ctx, jobs[t].lo, jobs[t].hi);
    }
}

/* ---- leaves -------------------------------------------------------------------------------- */

typedef struct {
    hasher h;
    const uint8_t *start_be; /* 32 bytes: the first log index, big-endian (abi.encode of uint256) */
    const uint8_t *fingerprints;
    uint8_t *out;
} leaf_ctx;

/* out = start + offset, 256-bit big-endian. The caller guarantees it does not overflow. */
static void add_be256(const uint8_t start[32], uint64_t offset, uint8_t out[32]) {
    unsigned carry = 0;
    for (int i = 31; i >= 0; i--) {
        unsigned sum = (unsigned)start[i] + (unsigned)(offset & 0xff) + carry;
        out[i] = (uint8_t)sum;
        carry = sum >> 8;
        offset >>= 8;
    }
}

static void leaves_range(void *arg, size_t lo, size_t hi) {
    const leaf_ctx *ctx = (const leaf_ctx *)arg;
    uint8_t index[4][32], inner[4][32];
    size_t i = lo;
    if (ctx->h.level != SIMD_NONE) {
        const uint8_t *const index_p[4] = {index[0], index[1], index[2], index[3]};
        uint8_t *const inner_w[4] = {inner[0], inner[1], inner[2], inner[3]};
        const uint8_t *const inner_p[4] = {inner[0], inner[1], inner[2], inner[3]};
        for (; i + 4 <= hi; i += 4) {
            for (int j = 0; j < 4; j++) add_be256(ctx->start_be, (uint64_t)(i + (size_t)j), index[j]);
            const uint8_t *const fp[4] = {ctx->fingerprints + 32 * i, ctx->fingerprints + 32 * (i + 1),
                                          ctx->fingerprints + 32 * (i + 2), ctx->fingerprints + 32 * (i + 3)};
            uint8_t *const out[4] = {ctx->out + 32 * i, ctx->out + 32 * (i + 1), ctx->out + 32 * (i + 2),
                                     ctx->out + 32 * (i + 3)};
            ctx->h.hash64_x4(index_p, fp, inner_w);
            ctx->h.hash32_x4(inner_p, out);
        }
    }
    for (; i < hi; i++) {
        add_be256(ctx->start_be, (uint64_t)i, index[0]);
        keccak256_64(index[0], ctx->fingerprints + 32 * i, inner[0]);
        keccak256_32(inner[0], ctx->out + 32 * i);
    }
}

static void leaf_hashes(const hasher *h, const uint8_t *start_be, const uint8_t *fingerprints, size_t n, uint8_t *out,
                        int threads) {
    leaf_ctx ctx = {*h, start_be, fingerprints, out};
    parallel_for(leaves_range, &ctx, n, threads);
}

#define MAX_LEAVES 0x7fffffffU /* the most leaves: 2n - 1 tree positions fit tree_index's uint32_t */

/* start_be is 32 bytes and fingerprints n x 32 bytes; out has room for n x 32. */
static int check_values(const uint8_t *start_be, size_t start_len, const uint8_t *fingerprints,
                        size_t fingerprints_len, size_t n, const uint8_t *out, size_t out_len) {
    if (!holds_exactly(start_be, start_len, 1, 32) || !holds_exactly(fingerprints, fingerprints_len, n, 32) ||
        !has_room(out, out_len, n, 32))
        return PACSPACE_ERR_BUFFER;
    return PACSPACE_OK;
}

/* out[32 i ..] = the leaf hash of (start + i, fingerprints[32 i ..]) for i < n.
 * Requires start + n - 1 < 2^256 (the caller checks) and n < 2^31 (else PACSPACE_ERR_COUNT);
 * start_len == 32, fingerprints_len == 32 n and out_len >= 32 n (else PACSPACE_ERR_BUFFER). */
int pacspace_leaf_hashes(const uint8_t *start_be, size_t start_len, const uint8_t *fingerprints,
                         size_t fingerprints_len, size_t n, uint8_t *out, size_t out_len, int threads) {
    if (n > MAX_LEAVES) return PACSPACE_ERR_COUNT;
    int rc = check_values(start_be, start_len, fingerprints, fingerprints_len, n, out, out_len);
    if (rc != PACSPACE_OK) return rc;
    hasher h = current_hasher();
    leaf_hashes(&h, start_be, fingerprints, n, out, threads);
    return PACSPACE_OK;
}

/* ---- sorting the leaves -------------------------------------------------------------------- */

/* A leaf to sort: the first 8 bytes of its hash as a big-endian integer (they decide almost every
 * comparison without reading the hash), and its value index. */
typedef struct {
    uint64_t prefix;
    uint64_t index;
} sort_key;

static inline int key_less(const sort_key *a, const sort_key *b, const uint8_t *leaves) {
    if (a->prefix != b->prefix) return a->prefix < b->prefix;
    int c = memcmp(leaves + 32 * a->index, leaves + 32 * b->index, 32);
    if (c != 0) return c < 0;
    return a->index < b->index; /* equal hashes: value order, as Python's stable sort leaves them */
}

static void merge(const sort_key *src, size_t lo, size_t mid, size_t hi, sort_key *dst, const uint8_t *leaves) {
    size_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi) dst[k++] = key_less(&src[j], &src[i], leaves) ? src[j++] : src[i++];
    while (i < mid) dst[k++] = src[i++];
    while (j < hi) dst[k++] = src[j++];
}

static void insertion_sort(sort_key *a, size_t lo, size_t hi, const uint8_t *leaves) {
    for (size_t i = lo + 1; i < hi; i++) {
        sort_key v = a[i];
        size_t j = i;
        while (j > lo && key_less(&v, &a[j - 1], leaves)) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

#define RUN 32

/* Bottom-up merge sort of a[lo, hi) using tmp[lo, hi); the result ends in a. */
static void merge_sort(sort_key *a, sort_key *tmp, size_t lo, size_t hi, const uint8_t *leaves) {
    for (size_t i = lo; i < hi; i += RUN) insertion_sort(a, i, i + RUN < hi ? i + RUN : hi, leaves);
    sort_key *src = a, *dst = tmp;
    for (size_t width = RUN; width < hi - lo; width *= 2) {
        for (size_t i = lo; i < hi; i += 2 * width) {
            size_t mid = i + width < hi ? i + width : hi;
            size_t end = i + 2 * width < hi ? i + 2 * width : hi;
            merge(src, i, mid, end, dst, leaves);
        }
        sort_key *swap = src;
        src = dst;
        dst = swap;
    }
    if (src != a) memcpy(a + lo, src + lo, (hi - lo) * sizeof(sort_key));
}

/* Large inputs: one counting pass on the top 16 bits of the prefix scatters the keys into 65,536
 * buckets (a few keys each for hashes), then each bucket is sorted on its own, the buckets spread
 * over the threads. A big bucket (equal or near-equal hashes given to pacspace_tree_from_leaves)
 * falls back to the merge sort, so the worst case stays O(n log n). */
#define BUCKET_BITS 16
#define BUCKET_MIN_KEYS 16384 /* below this the merge sort alone is faster */

typedef struct {
    sort_key *keys, *scattered;
    const size_t *bucket_start;
    const uint8_t *leaves;
} bucket_ctx;

static void sort_buckets(void *arg, size_t lo, size_t hi) {
    const bucket_ctx *ctx = (const bucket_ctx *)arg;
    for (size_t b = lo; b < hi; b++) {
        size_t from = ctx->bucket_start[b], to = ctx->bucket_start[b + 1];
        if (to - from <= RUN) {
            insertion_sort(ctx->scattered, from, to, ctx->leaves);
        } else {
            merge_sort(ctx->scattered, ctx->keys, from, to, ctx->leaves);
        }
        memcpy(ctx->keys + from, ctx->scattered + from, (to - from) * sizeof(sort_key));
    }
}

/* Sorts keys[0, n) by (hash, value index); tmp is scratch of the same size. */
static void sort_keys(sort_key *keys, sort_key *tmp, size_t n, const uint8_t *leaves, int threads) {
    const size_t buckets = (size_t)1 << BUCKET_BITS;
    size_t *start = n < BUCKET_MIN_KEYS ? NULL : calloc(buckets + 1, sizeof(size_t));
    size_t *cursor = start == NULL ? NULL : malloc(buckets * sizeof(size_t));
    if (cursor == NULL) {
        free(start);
        merge_sort(keys, tmp, 0, n, leaves);
        return;
    }
    for (size_t i = 0; i < n; i++) start[(keys[i].prefix >> (64 - BUCKET_BITS)) + 1]++;
    for (size_t b = 0; b < buckets; b++) start[b + 1] += start[b];
    memcpy(cursor, start, buckets * sizeof(size_t));
    for (size_t i = 0; i < n; i++) tmp[cursor[keys[i].prefix >> (64 - BUCKET_BITS)]++] = keys[i]; /* stable */
    free(cursor);
    bucket_ctx ctx = {keys, tmp, start, leaves};
    parallel_for(sort_buckets, &ctx, buckets, threads);
    free(start);
}

/* ---- the tree ------------------------------------------------------------------------------ */

typedef struct {
    hasher h;
    uint8_t *nodes;
    size_t lo; /* the level's first inner node */
} level_ctx;

static void level_range(void *arg, size_t from, size_t to) {
    const level_ctx *ctx = (const level_ctx *)arg;
    uint8_t *nodes = ctx->nodes;
    size_t k = from;
    if (ctx->h.level != SIMD_NONE) {
        for (; k + 4 <= to; k += 4) {
            const uint8_t *first[4], *second[4];
            uint8_t *out[4];
            for (int j = 0; j < 4; j++) {
                size_t i = ctx->lo + k + (size_t)j;
                const uint8_t *left = nodes + 32 * (2 * i + 1), *right = left + 32;
                int ordered = memcmp(left, right, 32) < 0;
                first[j] = ordered ? left : right;
                second[j] = ordered ? right : left;
                out[j] = nodes + 32 * i;
            }
            ctx->h.hash64_x4(first, second, out);
        }
    }
    for (; k < to; k++) {
        size_t i = ctx->lo + k;
        const uint8_t *left = nodes + 32 * (2 * i + 1), *right = left + 32;
        if (memcmp(left, right, 32) < 0)
            keccak256_64(left, right, nodes + 32 * i);
        else
            keccak256_64(right, left, nodes + 32 * i);
    }
}

/* nodes: 32 (2n - 1) bytes out; tree_index: n entries out (where value i's leaf sits). */
static int build_from_leaves(const hasher *h, const uint8_t *leaves, size_t n, uint8_t *nodes, uint32_t *tree_index,
                             int threads) {
    size_t size = 2 * n - 1;
    sort_key *keys = malloc(n * sizeof(sort_key));
    sort_key *tmp = malloc(n * sizeof(sort_key));
    if (keys == NULL || tmp == NULL) {
        free(keys);
        free(tmp);
        return PACSPACE_ERR_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *leaf = leaves + 32 * i;
        uint64_t prefix = 0;
        for (int j = 0; j < 8; j++) prefix = prefix << 8 | leaf[j];
        keys[i] = (sort_key){prefix, i};
    }
    sort_keys(keys, tmp, n, leaves, threads);
    free(tmp);
    for (size_t position = 0; position < n; position++) {
        size_t at = size - 1 - position;
        memcpy(nodes + 32 * at, leaves + 32 * keys[position].index, 32);
        tree_index[keys[position].index] = (uint32_t)at;
    }
    free(keys);
    /* Inner nodes a level at a time from the deepest: a level's children are all final before it
     * starts and its nodes do not depend on each other, so a level splits over threads and SIMD. */
    size_t level_start = 1;
    while (level_start * 2 <= size) level_start *= 2;
    level_start -= 1; /* the first index of the deepest level: 2^floor(log2(size)) - 1 */
    for (;;) {
        size_t lo = level_start, hi = 2 * lo + 1 < n - 1 ? 2 * lo + 1 : n - 1;
        if (lo < hi) {
            level_ctx ctx = {*h, nodes, lo};
            parallel_for(level_range, &ctx, hi - lo, threads);
        }
        if (level_start == 0) break;
        level_start = (level_start - 1) / 2;
    }
    return PACSPACE_OK;
}

/* The outputs of a tree of n >= 1 leaves: nodes has room for 2n - 1 nodes of 32 bytes, tree_index for
 * n uint32_t entries (tree_index_len is in bytes too). */
static int check_tree_outputs(const uint8_t *nodes, size_t nodes_len, const uint32_t *tree_index,
                              size_t tree_index_len, size_t n) {
    if (!has_room(nodes, nodes_len, 2 * n - 1, 32) || !has_room(tree_index, tree_index_len, n, sizeof(uint32_t)))
        return PACSPACE_ERR_BUFFER;
    return PACSPACE_OK;
}

/* The tree of n leaf hashes (leaves_len == 32 n) given in value order, into nodes (nodes_len >=
 * 32 (2n - 1)) and tree_index (tree_index_len >= 4 n). PACSPACE_OK, PACSPACE_ERR_COUNT if n is 0 or
 * 2^31 or more, PACSPACE_ERR_BUFFER if a length does not fit n, PACSPACE_ERR_MEMORY if out of memory. */
int pacspace_tree_from_leaves(const uint8_t *leaves, size_t leaves_len, size_t n, uint8_t *nodes, size_t nodes_len,
                              uint32_t *tree_index, size_t tree_index_len, int threads) {
    if (n == 0 || n > MAX_LEAVES) return PACSPACE_ERR_COUNT;
    if (!holds_exactly(leaves, leaves_len, n, 32)) return PACSPACE_ERR_BUFFER;
    int rc = check_tree_outputs(nodes, nodes_len, tree_index, tree_index_len, n);
    if (rc != PACSPACE_OK) return rc;
    hasher h = current_hasher();
    return build_from_leaves(&h, leaves, n, nodes, tree_index, threads);
}

/* The tree of the values (start + i, fingerprints[i]): leaves hashed, sorted and built in one call.
 * Requires start + n - 1 < 2^256 (the caller checks); start_len == 32 and fingerprints_len == 32 n, the
 * outputs as pacspace_tree_from_leaves. Returns as pacspace_tree_from_leaves. */
int pacspace_tree_from_values(const uint8_t *start_be, size_t start_len, const uint8_t *fingerprints,
                              size_t fingerprints_len, size_t n, uint8_t *nodes, size_t nodes_len,
                              uint32_t *tree_index, size_t tree_index_len, int threads) {
    if (n == 0 || n > MAX_LEAVES) return PACSPACE_ERR_COUNT;
    if (!holds_exactly(start_be, start_len, 1, 32) || !holds_exactly(fingerprints, fingerprints_len, n, 32))
        return PACSPACE_ERR_BUFFER;
    int rc = check_tree_outputs(nodes, nodes_len, tree_index, tree_index_len, n);
    if (rc != PACSPACE_OK) return rc;
    hasher h = current_hasher();
    uint8_t *leaves = malloc(32 * n);
    if (leaves == NULL) return PACSPACE_ERR_MEMORY;
    leaf_hashes(&h, start_be, fingerprints, n, leaves, threads);
    rc = build_from_leaves(&h, leaves, n, nodes, tree_index, threads);
    free(leaves);
    return rc;
}
