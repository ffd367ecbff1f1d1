/*
 * Four keccak256 hashes at once: lane i of the four states is one vector of four 64-bit elements.
 * Included twice by merkle.c, with X4_SUFFIX / X4_ATTR set: once for the baseline instruction set,
 * once with __attribute__((target("avx2"))) (chosen at run time when the CPU has AVX2).
 */
#define X4_CAT_(a, b) a##_##b
#define X4_CAT(a, b) X4_CAT_(a, b)
#define X4_PERMUTE X4_CAT(keccak_f1600_x4, X4_SUFFIX)

DEFINE_KECCAK_F1600(X4_PERMUTE, v4u64, X4_ATTR)

#define X4_LOAD(p, off) ((v4u64){load64_le((p)[0] + (off)), load64_le((p)[1] + (off)), \
                                 load64_le((p)[2] + (off)), load64_le((p)[3] + (off))})

X4_ATTR static void X4_CAT(squeeze32_x4, X4_SUFFIX)(const v4u64 s[25], uint8_t *const out[4]) {
    for (int i = 0; i < 4; i++) {
        v4u64 lane = s[i];
        for (int j = 0; j < 4; j++) store64_le(out[j] + 8 * i, lane[j]);
    }
}

/* out[j] = keccak256(first[j] (32 bytes) || second[j] (32 bytes)) for j < 4 */
X4_ATTR static void X4_CAT(hash64_x4, X4_SUFFIX)(const uint8_t *const first[4], const uint8_t *const second[4],
                                                 uint8_t *const out[4]) {
    v4u64 s[25];
    memset(s, 0, sizeof s);
    for (int i = 0; i < 4; i++) s[i] = X4_LOAD(first, 8 * i);
    for (int i = 0; i < 4; i++) s[4 + i] = X4_LOAD(second, 8 * i);
    s[8] = s[8] + PAD_FIRST;
    s[RATE / 8 - 1] = s[RATE / 8 - 1] + PAD_LAST;
    X4_PERMUTE(s);
    X4_CAT(squeeze32_x4, X4_SUFFIX)(s, out);
}

/* out[j] = keccak256(in[j] (32 bytes)) for j < 4 */
X4_ATTR static void X4_CAT(hash32_x4, X4_SUFFIX)(const uint8_t *const in[4], uint8_t *const out[4]) {
    v4u64 s[25];
    memset(s, 0, sizeof s);
    for (int i = 0; i < 4; i++) s[i] = X4_LOAD(in, 8 * i);
    s[4] = s[4] + PAD_FIRST;
    s[RATE / 8 - 1] = s[RATE / 8 - 1] + PAD_LAST;
    X4_PERMUTE(s);
    X4_CAT(squeeze32_x4, X4_SUFFIX)(s, out);
}

#undef X4_LOAD
#undef X4_PERMUTE
