/* Loading a tile of rows into feature columns, per x86-64 instruction set.
 *
 * Included by _ckernel.c on x86-64 only. Each function reads the LANES rows
 * of a tile (row-major, d values each) and writes feature column i, one lane
 * per row, to columns[i] for i < d. Rows are read whole with vector loads
 * and transposed in registers, which costs a few shuffles per column where
 * loading element by element costs one instruction per value. Features are
 * taken in groups; the last, narrower group is loaded under a mask, so no
 * row is read past its end (the last row of X ends a tile). Columns past d
 * are never formed: with d a compile-time constant, the compiler drops their
 * shuffles.
 */

#define AVX512 __attribute__((target("avx512f,fma"), always_inline))
#define AVX2 __attribute__((target("avx2,fma"), always_inline))

/* 8 float64 rows: an 8 x 8 transpose per group of eight features, in three
 * steps of eight shuffles. */
AVX512 static inline void
f64_avx512_transpose(const double *X, const Py_ssize_t d, vf64x8 *columns)
{
    Py_ssize_t g;
    for (g = 0; g < d; g += 8) {
        const Py_ssize_t width = d - g < 8 ? d - g : 8;
        __m512d r[8], t[8], u[8];
        int a, q, e;
        for (a = 0; a < 8; a++) {
            r[a] = width == 8 ? _mm512_loadu_pd(X + a * d + g)
                              : _mm512_maskz_loadu_pd(
                                    (__mmask8)((1u << width) - 1), X + a * d + g);
        }
        /* t[2p]: even features of rows 2p, 2p + 1; t[2p + 1]: odd ones */
        for (a = 0; a < 8; a += 2) {
            t[a] = _mm512_unpacklo_pd(r[a], r[a + 1]);
            t[a + 1] = _mm512_unpackhi_pd(r[a], r[a + 1]);
        }
        /* u[4h + 2q + e]: features q + 2e and q + 2e + 4 of rows 4h .. 4h + 3 */
        for (a = 0; a < 8; a += 4) {
            for (q = 0; q < 2; q++) {
                u[a + 2 * q] = _mm512_shuffle_f64x2(t[a + q], t[a + 2 + q], 0x88);
                u[a + 2 * q + 1] = _mm512_shuffle_f64x2(t[a + q], t[a + 2 + q], 0xDD);
            }
        }
        for (q = 0; q < 2; q++) {
            for (e = 0; e < 2; e++) {
                const int c = q + 2 * e;
                if (c < width) {
                    columns[g + c] = (vf64x8)_mm512_shuffle_f64x2(
                        u[2 * q + e], u[4 + 2 * q + e], 0x88);
                }
                if (c + 4 < width) {
                    columns[g + c + 4] = (vf64x8)_mm512_shuffle_f64x2(
                        u[2 * q + e], u[4 + 2 * q + e], 0xDD);
                }
            }
        }
    }
}

/* 16 float32 rows, eight features at a time: vector a holds row a in its
 * low half and row a + 8 in its high half, so both 8 x 8 blocks are
 * transposed at once (unpack and shuffle within 128-bit lanes, then one
 * two-source permute). */
AVX512 static inline void
f32_avx512_transpose(const float *X, const Py_ssize_t d, vf32x16 *columns)
{
    const __m512i low_blocks = _mm512_setr_epi32(
        0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
    const __m512i high_blocks = _mm512_setr_epi32(
        4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
    Py_ssize_t g;
    for (g = 0; g < d; g += 8) {
        const Py_ssize_t width = d - g < 8 ? d - g : 8;
        __m512 r[8], t[8], s[8];
        int a, c;
        for (a = 0; a < 8; a++) {
            const float *low = X + a * d + g;
            const float *high = X + (a + 8) * d + g;
            if (width == 8) {
                r[a] = _mm512_castpd_ps(_mm512_insertf64x4(
                    _mm512_castps_pd(_mm512_castps256_ps512(_mm256_loadu_ps(low))),
                    _mm256_castps_pd(_mm256_loadu_ps(high)), 1));
            }
            else {
                const __mmask16 mask = (__mmask16)((1u << width) - 1);
                r[a] = _mm512_maskz_loadu_ps(mask, low);
                r[a] = _mm512_mask_loadu_ps(r[a], (__mmask16)(mask << 8), high - 8);
            }
        }
        for (a = 0; a < 8; a += 2) {
            t[a] = _mm512_unpacklo_ps(r[a], r[a + 1]);
            t[a + 1] = _mm512_unpackhi_ps(r[a], r[a + 1]);
        }
        for (a = 0; a < 8; a += 4) {
            s[a] = _mm512_shuffle_ps(t[a], t[a + 2], 0x44);
            s[a + 1] = _mm512_shuffle_ps(t[a], t[a + 2], 0xEE);
            s[a + 2] = _mm512_shuffle_ps(t[a + 1], t[a + 3], 0x44);
            s[a + 3] = _mm512_shuffle_ps(t[a + 1], t[a + 3], 0xEE);
        }
        for (c = 0; c < 4; c++) {
            if (c < width) {
                columns[g + c] =
                    (vf32x16)_mm512_permutex2var_ps(s[c], low_blocks, s[c + 4]);
            }
            if (c + 4 < width) {
                columns[g + c + 4] =
                    (vf32x16)_mm512_permutex2var_ps(s[c], high_blocks, s[c + 4]);
            }
        }
    }
}

/* One float64 value at p (low half) and one at p + step (high half), or
 * two at each when `pair`; zeros after them. */
AVX2 static inline __m256d
f64_avx2_load_pairs(const double *p, Py_ssize_t step, int pair)
{
    const __m128d low = pair ? _mm_loadu_pd(p) : _mm_load_sd(p);
    const __m128d high = pair ? _mm_loadu_pd(p + step) : _mm_load_sd(p + step);
    return _mm256_insertf128_pd(_mm256_castpd128_pd256(low), high, 1);
}

/* 4 float64 rows, two features at a time: vector a holds the two features
 * of row a (low half) and of row a + 2 (high half), and one unpack per
 * column finishes the transpose. The last group of an odd d has one. */
AVX2 static inline void
f64_avx2_transpose(const double *X, const Py_ssize_t d, vf64x4 *columns)
{
    for (Py_ssize_t g = 0; g < d; g += 2) {
        const int pair = g + 1 < d;
        const __m256d r0 = f64_avx2_load_pairs(X + g, 2 * d, pair);
        const __m256d r1 = f64_avx2_load_pairs(X + d + g, 2 * d, pair);
        columns[g] = (vf64x4)_mm256_unpacklo_pd(r0, r1);
        if (pair) {
            columns[g + 1] = (vf64x4)_mm256_unpackhi_pd(r0, r1);
        }
    }
}

/* The first `count` (1 to 4) float32 values at p (low half) and at p + step
 * (high half), zeros after them. */
AVX2 static inline __m256
f32_avx2_load_quads(const float *p, Py_ssize_t step, Py_ssize_t count)
{
    __m128 low, high;
    if (count == 4) {
        low = _mm_loadu_ps(p);
        high = _mm_loadu_ps(p + step);
    } else {
        /* lanes below count are loaded; the masked ones are never read */
        const __m128i mask = _mm_cmpgt_epi32(_mm_set1_epi32((int)count),
                                             _mm_setr_epi32(0, 1, 2, 3));
        low = _mm_maskload_ps(p, mask);
        high = _mm_maskload_ps(p + step, mask);
    }
    return _mm256_insertf128_ps(_mm256_castps128_ps256(low), high, 1);
}

/* 8 float32 rows, four features at a time: vector a holds the four
 * features of row a (low half) and of row a + 4 (high half), and a 4 x 4
 * transpose within each half (unpack, then shuffle) gives the columns. */
AVX2 static inline void
f32_avx2_transpose(const float *X, const Py_ssize_t d, vf32x8 *columns)
{
    Py_ssize_t g;
    for (g = 0; g < d; g += 4) {
        const Py_ssize_t count = d - g < 4 ? d - g : 4;
        __m256 r[4], t[4];
        int a;
        for (a = 0; a < 4; a++) {
            r[a] = f32_avx2_load_quads(X + a * d + g, 4 * d, count);
        }
        t[0] = _mm256_unpacklo_ps(r[0], r[1]);
        t[1] = _mm256_unpackhi_ps(r[0], r[1]);
        t[2] = _mm256_unpacklo_ps(r[2], r[3]);
        t[3] = _mm256_unpackhi_ps(r[2], r[3]);
        columns[g] = (vf32x8)_mm256_shuffle_ps(t[0], t[2], 0x44);
        if (count > 1) {
            columns[g + 1] = (vf32x8)_mm256_shuffle_ps(t[0], t[2], 0xEE);
        }
        if (count > 2) {
            columns[g + 2] = (vf32x8)_mm256_shuffle_ps(t[1], t[3], 0x44);
        }
        if (count > 3) {
            columns[g + 3] = (vf32x8)_mm256_shuffle_ps(t[1], t[3], 0xEE);
        }
    }
}

#undef AVX512
#undef AVX2
