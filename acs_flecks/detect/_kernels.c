/*
 * Compiled loops of the §7 search (acs_flecks.detect): the sliding
 * medians, the padding, the fused thresholding pass, the interpolation and
 * the 8-connected labelling.
 *
 * Why C, by hand: numpy and scipy cannot express these loops without
 * several full-chip temporaries or an O(size**2) median (see medfilt.py),
 * and a just-in-time compiler costs every process its start-up: importing
 * numba and loading its registries and cached kernels takes 0.55 s with
 * the GIL held, about as long as the search of a whole full-frame file
 * once it runs.  An extension module built at install time (as astropy's
 * and photutils' compiled parts are) loads in a millisecond.
 *
 * Every function takes numpy arrays through the buffer protocol (C
 * contiguous, native byte order; the dtype and the shapes are checked
 * here, so a wrong call raises instead of reading out of bounds), releases
 * the GIL for its loops (the chips of a file are searched in threads), and
 * does in float32 or float64 exactly the operations of the Python
 * reference in the docstrings of the calling modules (no fast-math, no
 * contraction into fused multiply-adds: setup.py), so that the results are
 * bit for bit those of numpy/scipy.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ---------------------------------------------------------------------- */
/* Buffers */

typedef struct {
    Py_buffer view;
    int held;
} Arr;

/* The formats numpy exports for each kind (native byte order). */
#define F_F32 "f"
#define F_U8 "B"
#define F_BOOL "?"
#define F_U16 "H"
#define F_U32 "I"
#define F_I32 "i"
#define F_I64 "lq"
#define F_U64 "LQ"

static int
get_arr(PyObject *obj, Arr *a, const char *name, const char *formats,
        Py_ssize_t itemsize, int ndim, int writable)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT;
    const char *fmt;
    a->held = 0;
    if (writable)
        flags |= PyBUF_WRITABLE;
    if (PyObject_GetBuffer(obj, &a->view, flags) < 0) {
        PyErr_Format(PyExc_TypeError, "%s: a C-contiguous%s array is needed",
                     name, writable ? ", writable" : "");
        return -1;
    }
    a->held = 1;
    fmt = a->view.format ? a->view.format : "B";
    if (*fmt == '@' || *fmt == '=')
        fmt++;
#if PY_LITTLE_ENDIAN
    else if (*fmt == '<')
        fmt++;
#else
    else if (*fmt == '>' || *fmt == '!')
        fmt++;
#endif
    if (fmt[0] == '\0' || fmt[1] != '\0' || !strchr(formats, fmt[0]) ||
            a->view.itemsize != itemsize) {
        PyErr_Format(PyExc_TypeError, "%s: wrong dtype (buffer format '%s')",
                     name, a->view.format ? a->view.format : "B");
        goto fail;
    }
    if (a->view.ndim != ndim) {
        PyErr_Format(PyExc_ValueError, "%s: %d-D array needed, got %d-D",
                     name, ndim, a->view.ndim);
        goto fail;
    }
    return 0;
fail:
    PyBuffer_Release(&a->view);
    a->held = 0;
    return -1;
}

static void
release(Arr *arrs, int n)
{
    for (int i = 0; i < n; i++)
        if (arrs[i].held) {
            PyBuffer_Release(&arrs[i].view);
            arrs[i].held = 0;
        }
}

/* The error of a call that failed a check without setting one itself (a
   size, step or count out of range). */
static void
bad_arguments(const char *function)
{
    if (!PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "%s: argument out of range",
                     function + 2);         /* without the k_ prefix */
}

#define SHAPE(a, k) ((a).view.shape[k])
#define DATA(a, type) ((type *)(a).view.buf)

static int
check_shape(const Arr *a, const char *name, Py_ssize_t d0, Py_ssize_t d1)
{
    if (SHAPE(*a, 0) != d0 || (a->view.ndim > 1 && SHAPE(*a, 1) != d1)) {
        PyErr_Format(PyExc_ValueError, "%s: wrong shape", name);
        return -1;
    }
    return 0;
}

/* The 64-bin vector additions of the sliding histogram compile to a few
   SIMD instructions: an AVX2 version is chosen at load time where the CPU
   has it (GCC's function multi-versioning; elsewhere the baseline). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__)
#define SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SIMD_CLONES
#endif

/* ---------------------------------------------------------------------- */
/* Codes and keys (medfilt.py: `_code`, `_float_key`, `_key_bits`) */

static inline uint32_t
float_bits(float v)
{
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

/* Order-preserving 32-bit key of float32 bits: negative floats have all
   bits flipped, positive ones the sign bit set. */
static inline uint32_t
float_key(uint32_t b)
{
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

static inline uint32_t
key_bits(uint64_t key)
{
    if (key & 0x80000000u)
        return (uint32_t)(key & 0x7FFFFFFFu);
    return (uint32_t)(~key & 0xFFFFFFFFu);
}

/* clip(floor((v - lo) * scale), 0, top): non-decreasing in v */
static inline int64_t
bin_code(float v, double lo, double scale, int64_t top)
{
    double x = ((double)v - lo) * scale;
    if (x <= 0.0)
        return 0;
    if (x >= (double)top)
        return top;
    return (int64_t)x;
}

/* Index of the pixel that padding puts at index i of an axis of length n:
   numpy's 'symmetric' (scipy's 'reflect') or 'edge'. */
static inline Py_ssize_t
source_index(Py_ssize_t i, Py_ssize_t n, int reflect)
{
    if (!reflect)
        return i < 0 ? 0 : (i >= n ? n - 1 : i);
    while (i < 0 || i >= n)
        i = i < 0 ? -i - 1 : 2 * n - i - 1;
    return i;
}

/* ---------------------------------------------------------------------- */
/* fill_and_pad */

static PyObject *
k_fill_and_pad(PyObject *self, PyObject *args)
{
    PyObject *o[6];
    unsigned int flags;
    Py_ssize_t half;
    int reflect;
    Arr a[6];
    memset(a, 0, sizeof a);
    Py_ssize_t n = 0;
    if (!PyArg_ParseTuple(args, "OOIOnpOO", &o[0], &o[1], &flags, &o[2],
                          &half, &reflect, &o[3], &o[4]))
        return NULL;
    if (get_arr(o[0], &a[0], "sci", F_F32, 4, 2, 0) ||
            get_arr(o[1], &a[1], "dq", F_U16, 2, 2, 0) ||
            get_arr(o[2], &a[2], "level", F_F32, 4, 2, 0) ||
            get_arr(o[3], &a[3], "padded", F_F32, 4, 2, 1) ||
            get_arr(o[4], &a[4], "mask", F_BOOL, 1, 2, 1))
        goto fail;
    Py_ssize_t nr = SHAPE(a[0], 0), nc = SHAPE(a[0], 1);
    if (half < 0 || check_shape(&a[1], "dq", nr, nc) ||
            check_shape(&a[2], "level", nr, nc) ||
            check_shape(&a[3], "padded", nr + 2 * half, nc + 2 * half) ||
            check_shape(&a[4], "mask", nr, nc) || nr < 1 || nc < 1)
        goto fail;
    {
        const float *sci = DATA(a[0], float), *level = DATA(a[2], float);
        const uint16_t *dq = DATA(a[1], uint16_t);
        float *padded = DATA(a[3], float);
        char *mask = DATA(a[4], char);
        Py_ssize_t np_ = nc + 2 * half, mr = nr + 2 * half;
        uint16_t f16 = (uint16_t)flags;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t r = 0; r < nr; r++) {
            float *prow = padded + (r + half) * np_ + half;
            for (Py_ssize_t c = 0; c < nc; c++) {
                float v = sci[r * nc + c];
                int bad = (dq[r * nc + c] & f16) != 0 || !isfinite(v);
                mask[r * nc + c] = (char)bad;
                if (bad) {
                    prow[c] = level[r * nc + c];
                    n++;
                } else {
                    prow[c] = v;
                }
            }
        }
        /* borders: copies of interior pixels */
        for (Py_ssize_t p = 0; p < mr; p++) {
            Py_ssize_t sr = source_index(p - half, nr, reflect) + half;
            int inner = half <= p && p < half + nr;
            for (Py_ssize_t q = 0; q < np_; q++) {
                if (inner && half <= q && q < half + nc)
                    continue;
                padded[p * np_ + q] = padded[
                    sr * np_ + source_index(q - half, nc, reflect) + half];
            }
        }
        Py_END_ALLOW_THREADS
    }
    release(a, 6);
    return PyLong_FromSsize_t(n);
fail:
    bad_arguments(__func__);
    release(a, 6);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Bracketed median: coarse codes, sliding coarse histogram, exact values */

#define NCOARSE 64
#define COARSE_SHIFT 8

static PyObject *
k_coarse_codes(PyObject *self, PyObject *args)
{
    PyObject *o[3];
    double lo, scale;
    Py_ssize_t nbins;
    Arr a[3];
    memset(a, 0, sizeof a);
    if (!PyArg_ParseTuple(args, "OddnOO", &o[0], &lo, &scale, &nbins, &o[1],
                          &o[2]))
        return NULL;
    if (get_arr(o[0], &a[0], "padded", F_F32, 4, 2, 0) ||
            get_arr(o[1], &a[1], "codes", F_U8, 1, 2, 1) ||
            get_arr(o[2], &a[2], "kmin", F_I64, 8, 1, 1))
        goto fail;
    Py_ssize_t nr = SHAPE(a[0], 0), nc = SHAPE(a[0], 1);
    if (check_shape(&a[1], "codes", nr, nc) ||
            check_shape(&a[2], "kmin", NCOARSE, 0))
        goto fail;
    if (nbins < 1 || ((nbins - 1) >> COARSE_SHIFT) >= NCOARSE) {
        PyErr_SetString(PyExc_ValueError, "nbins: out of range");
        goto fail;
    }
    {
        const float *padded = DATA(a[0], float);
        uint8_t *codes = DATA(a[1], uint8_t);
        int64_t *kmin = DATA(a[2], int64_t);
        int64_t top = nbins - 1;
        Py_BEGIN_ALLOW_THREADS
        for (int m = 0; m < NCOARSE; m++)
            kmin[m] = 0xFFFFFFFFLL;
        for (Py_ssize_t i = 0; i < nr * nc; i++) {
            float v = padded[i];
            int m = (int)(bin_code(v, lo, scale, top) >> COARSE_SHIFT);
            int64_t k = float_key(float_bits(v));
            codes[i] = (uint8_t)m;
            if (k < kmin[m])
                kmin[m] = k;
        }
        Py_END_ALLOW_THREADS
    }
    release(a, 3);
    Py_RETURN_NONE;
fail:
    bad_arguments(__func__);
    release(a, 3);
    return NULL;
}


/* One step of the sliding window along a row: the entering column's
   counts added to the window's, the leaving column's removed, and the
   change of the count below the median bin m returned. */
#define COLUMN_STEP(NAME, COUNT)                                              \
static inline int64_t                                                         \
NAME(COUNT *kern, const COUNT *cin, const COUNT *cout, int64_t m)             \
{                                                                             \
    int32_t d = 0;                                                            \
    for (int b = 0; b < NCOARSE; b++) {                                       \
        int32_t x = (int32_t)cin[b] - (int32_t)cout[b];                       \
        kern[b] = (COUNT)(kern[b] + x);                                       \
        d += b < m ? x : 0;                                                   \
    }                                                                         \
    return d;                                                                 \
}

COLUMN_STEP(column_step_u16, uint16_t)

#if defined(__SSE2__)
/* The one-byte step with SSE2 intrinsics: the count of the entering and
   leaving columns below m is a masked byte sum (psadbw) instead of 64
   widened lanes; the same arithmetic, the same results. */
static inline int64_t
column_step_u8(uint8_t *kern, const uint8_t *cin, const uint8_t *cout,
               int64_t m)
{
    const __m128i zero = _mm_setzero_si128();
    /* the bin number of each lane, for the mask of the bins below m */
    const __m128i lane0 = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                        11, 12, 13, 14, 15);
    const __m128i mv = _mm_set1_epi8((char)m);
    __m128i sin = zero, sout = zero;
    for (int q = 0; q < NCOARSE; q += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(cin + q));
        __m128i o = _mm_loadu_si128((const __m128i *)(cout + q));
        /* 0xFF where the lane's bin q + b < m (bins <= 64) */
        __m128i mk = _mm_cmplt_epi8(
            _mm_add_epi8(lane0, _mm_set1_epi8((char)q)), mv);
        __m128i *kq = (__m128i *)(kern + q);
        _mm_storeu_si128(kq, _mm_sub_epi8(_mm_add_epi8(_mm_loadu_si128(kq),
                                                       a), o));
        sin = _mm_add_epi64(sin, _mm_sad_epu8(_mm_and_si128(a, mk), zero));
        sout = _mm_add_epi64(sout, _mm_sad_epu8(_mm_and_si128(o, mk), zero));
    }
    __m128i dv = _mm_sub_epi64(sin, sout);
    return _mm_cvtsi128_si64(dv) +
           _mm_cvtsi128_si64(_mm_unpackhi_epi64(dv, dv));
}
#else
COLUMN_STEP(column_step_u8, uint8_t)
#endif

/* Perreault & Hebert sliding histogram of the coarse codes for output rows
   [row0, row1); COUNT is the type of the counts (uint8 up to 15x15), STEP
   the column step of that type. */
#define COARSE_ROWS(NAME, COUNT, STEP)                                        \
SIMD_CLONES                                                                   \
static void                                                                   \
NAME(const uint8_t *codes, Py_ssize_t ncolp, Py_ssize_t size,                 \
     Py_ssize_t row0, Py_ssize_t row1, Py_ssize_t ncol, uint8_t *coarse,      \
     COUNT *below, COUNT *colh)                                               \
{                                                                             \
    int64_t kth = (int64_t)(size * size) / 2;                                 \
    COUNT kern[NCOARSE];                                                      \
    memset(colh, 0, sizeof(COUNT) * NCOARSE * ncolp);                         \
    for (Py_ssize_t r = row0; r < row0 + size; r++)                           \
        for (Py_ssize_t c = 0; c < ncolp; c++)                                \
            colh[c * NCOARSE + codes[r * ncolp + c]] += 1;                    \
    for (Py_ssize_t i = row0; i < row1; i++) {                                \
        if (i > row0) {                                                       \
            const uint8_t *out_row = codes + (i - 1) * ncolp;                 \
            const uint8_t *in_row = codes + (i + size - 1) * ncolp;           \
            for (Py_ssize_t c = 0; c < ncolp; c++) {                          \
                colh[c * NCOARSE + out_row[c]] -= 1;                          \
                colh[c * NCOARSE + in_row[c]] += 1;                           \
            }                                                                 \
        }                                                                     \
        memset(kern, 0, sizeof kern);                                         \
        for (Py_ssize_t c = 0; c < size; c++)                                 \
            for (int b = 0; b < NCOARSE; b++)                                 \
                kern[b] += colh[c * NCOARSE + b];                             \
        int64_t m = 0, acc = 0;                                               \
        uint8_t *crow = coarse + (i - row0) * ncol;                           \
        COUNT *brow = below + (i - row0) * ncol;                              \
        for (Py_ssize_t j = 0; j < ncol; j++) {                               \
            if (j > 0)                                                        \
                acc += STEP(kern, colh + (j + size - 1) * NCOARSE,            \
                            colh + (j - 1) * NCOARSE, m);                     \
            while (acc > kth) {                                               \
                m--;                                                          \
                acc -= kern[m];                                               \
            }                                                                 \
            while (acc + kern[m] <= kth) {                                    \
                acc += kern[m];                                               \
                m++;                                                          \
            }                                                                 \
            crow[j] = (uint8_t)m;                                             \
            brow[j] = (COUNT)acc;                                             \
        }                                                                     \
    }                                                                         \
}

COARSE_ROWS(coarse_rows_u8, uint8_t, column_step_u8)
COARSE_ROWS(coarse_rows_u16, uint16_t, column_step_u16)

static PyObject *
k_coarse_rows(PyObject *self, PyObject *args)
{
    PyObject *o[3];
    Py_ssize_t size, row0, row1, ncol;
    Arr a[3];
    memset(a, 0, sizeof a);
    void *colh = NULL;
    if (!PyArg_ParseTuple(args, "OnnnnOO", &o[0], &size, &row0, &row1, &ncol,
                          &o[1], &o[2]))
        return NULL;
    if (get_arr(o[0], &a[0], "codes", F_U8, 1, 2, 0) ||
            get_arr(o[1], &a[1], "coarse", F_U8, 1, 2, 1))
        goto fail;
    if (get_arr(o[2], &a[2], "below", F_U8, 1, 2, 1)) {
        PyErr_Clear();
        if (get_arr(o[2], &a[2], "below", F_U16, 2, 2, 1))
            goto fail;
    }
    Py_ssize_t nrp = SHAPE(a[0], 0), ncolp = SHAPE(a[0], 1);
    if (size < 1 || row0 < 0 || row1 < row0 || row1 + size - 1 > nrp ||
            ncol < 1 || ncol + size - 1 > ncolp ||
            (a[2].view.itemsize == 1 && size * size > 255)) {
        PyErr_SetString(PyExc_ValueError, "coarse_rows: bad rows or size");
        goto fail;
    }
    if (row1 == row0) {
        release(a, 3);
        Py_RETURN_NONE;
    }
    if (check_shape(&a[1], "coarse", row1 - row0, ncol) ||
            check_shape(&a[2], "below", row1 - row0, ncol))
        goto fail;
    colh = calloc((size_t)ncolp * NCOARSE, (size_t)a[2].view.itemsize);
    if (!colh) {
        PyErr_NoMemory();
        goto fail;
    }
    {
        const uint8_t *codes = DATA(a[0], uint8_t);
        uint8_t *coarse = DATA(a[1], uint8_t);
        int wide = a[2].view.itemsize == 2, bad = 0;
        void *below = a[2].view.buf;
        Py_BEGIN_ALLOW_THREADS
        /* the codes index the 64-bin histograms */
        for (Py_ssize_t k = row0 * ncolp; k < (row1 + size - 1) * ncolp; k++)
            bad |= codes[k] >= NCOARSE;
        if (!bad) {
        if (wide)
            coarse_rows_u16(codes, ncolp, size, row0, row1, ncol, coarse,
                            (uint16_t *)below, (uint16_t *)colh);
        else
            coarse_rows_u8(codes, ncolp, size, row0, row1, ncol, coarse,
                           (uint8_t *)below, (uint8_t *)colh);
        }
        Py_END_ALLOW_THREADS
        if (bad) {
            PyErr_SetString(PyExc_ValueError, "codes: not coarse codes");
            goto fail;
        }
    }
    free(colh);
    release(a, 3);
    Py_RETURN_NONE;
fail:
    bad_arguments(__func__);
    free(colh);
    release(a, 3);
    return NULL;
}

/* The t-th smallest of buf[0:k] (0 <= t < k): the value whose rank (the
   values below it, and its equals before it) is t.  Branch-free counts,
   which compile to vector compares: ~3x faster than sorting the ~16
   values of a median's bin, whose order is unpredictable. */
SIMD_CLONES
static uint32_t
select_rank(const uint32_t *buf, Py_ssize_t k, int64_t t)
{
    for (Py_ssize_t a = 0; a < k; a++) {
        const uint32_t x = buf[a];
        int64_t rank = 0;
        for (Py_ssize_t b = 0; b < k; b++)
            rank += buf[b] < x;
        for (Py_ssize_t b = 0; b < a; b++)
            rank += buf[b] == x;
        if (rank == t)
            return x;
    }
    return buf[t];          /* not reached: every rank 0 ... k-1 is taken */
}

/* The exact median (float32 bits) of the window of output pixel (i, j)
   whose median is in coarse bin m above `below` values; -1 if the
   brackets are inconsistent.  The window's codes are compared 16 at a time
   (SSE2, the x86-64 baseline) and only the matches visited, when a row of
   the window fits in one 16-byte load inside the image's row: the scan
   then costs 15 compares instead of 225 unpredictable branches. */
static inline int64_t
exact_at(const uint8_t *codes, const uint32_t *bits, Py_ssize_t ncolp,
         Py_ssize_t size, Py_ssize_t i, Py_ssize_t j, uint8_t m,
         int64_t below, uint32_t *buf)
{
    int64_t t = (int64_t)(size * size) / 2 - below;
    Py_ssize_t k = 0;
#if defined(__SSE2__) && defined(__GNUC__)
    if (size <= 16 && j + 16 <= ncolp) {
        const __m128i mm = _mm_set1_epi8((char)m);
        const unsigned keep = (1u << size) - 1;
        for (Py_ssize_t r = i; r < i + size; r++) {
            const uint8_t *crow = codes + r * ncolp + j;
            const uint32_t *brow = bits + r * ncolp + j;
            unsigned hit = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
                _mm_loadu_si128((const __m128i *)crow), mm)) & keep;
            while (hit) {
                buf[k++] = float_key(brow[__builtin_ctz(hit)]);
                hit &= hit - 1;
            }
        }
    } else
#endif
    for (Py_ssize_t r = i; r < i + size; r++) {
        const uint8_t *crow = codes + r * ncolp;
        const uint32_t *brow = bits + r * ncolp;
        for (Py_ssize_t c = j; c < j + size; c++)
            if (crow[c] == m)
                buf[k++] = float_key(brow[c]);
    }
    if (t < 0 || t >= k)
        return -1;
    return key_bits(select_rank(buf, k, t));
}

static inline int64_t
below_at(const Arr *below, Py_ssize_t index)
{
    if (below->view.itemsize == 1)
        return ((const uint8_t *)below->view.buf)[index];
    return ((const uint16_t *)below->view.buf)[index];
}

/* The arrays of MedianBrackets.exact_args, checked. */
static int
get_brackets(PyObject **o, Arr *a, Py_ssize_t size)
{
    if (get_arr(o[0], &a[0], "codes", F_U8, 1, 2, 0) ||
            get_arr(o[1], &a[1], "bits", F_U32, 4, 2, 0) ||
            get_arr(o[2], &a[2], "coarse", F_U8, 1, 2, 0))
        return -1;
    if (get_arr(o[3], &a[3], "below", F_U8, 1, 2, 0)) {
        PyErr_Clear();
        if (get_arr(o[3], &a[3], "below", F_U16, 2, 2, 0))
            return -1;
    }
    Py_ssize_t ny = SHAPE(a[2], 0), nx = SHAPE(a[2], 1);
    if (size < 1 || check_shape(&a[1], "bits", SHAPE(a[0], 0),
                                SHAPE(a[0], 1)) ||
            check_shape(&a[0], "codes", ny + size - 1, nx + size - 1) ||
            check_shape(&a[3], "below", ny, nx))
        return -1;
    return 0;
}

static PyObject *
bracket_error(void)
{
    PyErr_SetString(PyExc_ValueError,
                    "median brackets: counts inconsistent with the codes");
    return NULL;
}

static PyObject *
k_exact_grid(PyObject *self, PyObject *args)
{
    PyObject *o[5];
    Py_ssize_t size, step;
    Arr a[5];
    memset(a, 0, sizeof a);
    uint32_t *buf = NULL;
    int bad = 0;
    if (!PyArg_ParseTuple(args, "OOnOOnO", &o[0], &o[1], &size, &o[2], &o[3],
                          &step, &o[4]))
        return NULL;
    if (get_brackets(o, a, size) ||
            get_arr(o[4], &a[4], "out", F_U32, 4, 2, 1))
        goto fail;
    Py_ssize_t ny = SHAPE(a[2], 0), nx = SHAPE(a[2], 1);
    if (step < 1 || check_shape(&a[4], "out", (ny + step - 1) / step,
                                (nx + step - 1) / step))
        goto fail;
    buf = malloc(sizeof(uint32_t) * size * size);
    if (!buf) {
        PyErr_NoMemory();
        goto fail;
    }
    {
        const uint8_t *codes = DATA(a[0], uint8_t);
        const uint32_t *bits = DATA(a[1], uint32_t);
        const uint8_t *coarse = DATA(a[2], uint8_t);
        uint32_t *out = DATA(a[4], uint32_t);
        Py_ssize_t ncolp = SHAPE(a[0], 1), oy = SHAPE(a[4], 0),
                   ox = SHAPE(a[4], 1);
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t p = 0; p < oy && !bad; p++)
            for (Py_ssize_t q = 0; q < ox; q++) {
                Py_ssize_t i = p * step, j = q * step;
                int64_t v = exact_at(codes, bits, ncolp, size, i, j,
                                     coarse[i * nx + j],
                                     below_at(&a[3], i * nx + j), buf);
                if (v < 0) {
                    bad = 1;
                    break;
                }
                out[p * ox + q] = (uint32_t)v;
            }
        Py_END_ALLOW_THREADS
    }
    free(buf);
    release(a, 5);
    if (bad)
        return bracket_error();
    Py_RETURN_NONE;
fail:
    bad_arguments(__func__);
    free(buf);
    release(a, 5);
    return NULL;
}

static PyObject *
k_exact_at(PyObject *self, PyObject *args)
{
    PyObject *o[4];
    Py_ssize_t size, i, j;
    Arr a[4];
    memset(a, 0, sizeof a);
    uint32_t *buf = NULL;
    int64_t v = -1;
    if (!PyArg_ParseTuple(args, "OOnOOnn", &o[0], &o[1], &size, &o[2], &o[3],
                          &i, &j))
        return NULL;
    if (get_brackets(o, a, size))
        goto fail;
    Py_ssize_t ny = SHAPE(a[2], 0), nx = SHAPE(a[2], 1);
    if (i < 0 || i >= ny || j < 0 || j >= nx) {
        PyErr_SetString(PyExc_IndexError, "exact_median_at: pixel outside");
        goto fail;
    }
    buf = malloc(sizeof(uint32_t) * size * size);
    if (!buf) {
        PyErr_NoMemory();
        goto fail;
    }
    v = exact_at(DATA(a[0], uint8_t), DATA(a[1], uint32_t), SHAPE(a[0], 1),
                 size, i, j, DATA(a[2], uint8_t)[i * nx + j],
                 below_at(&a[3], i * nx + j), buf);
    free(buf);
    release(a, 4);
    if (v < 0)
        return bracket_error();
    return PyLong_FromUnsignedLong((unsigned long)v);
fail:
    bad_arguments(__func__);
    free(buf);
    release(a, 4);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* The search's fused passes (finder.py) */

static PyObject *
k_deficit(PyObject *self, PyObject *args)
{
    PyObject *o[3];
    Arr a[3];
    memset(a, 0, sizeof a);
    if (!PyArg_ParseTuple(args, "OOO", &o[0], &o[1], &o[2]))
        return NULL;
    if (get_arr(o[0], &a[0], "filtered", F_F32, 4, 2, 0) ||
            get_arr(o[1], &a[1], "level", F_F32, 4, 2, 0) ||
            get_arr(o[2], &a[2], "out", F_F32, 4, 2, 1))
        goto fail;
    Py_ssize_t ny = SHAPE(a[0], 0), nx = SHAPE(a[0], 1);
    if (check_shape(&a[1], "level", ny, nx) ||
            check_shape(&a[2], "out", ny, nx))
        goto fail;
    {
        const float *f = DATA(a[0], float), *level = DATA(a[1], float);
        float *out = DATA(a[2], float);
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < ny * nx; i++)
            out[i] = 100.0f * (1.0f - f[i] / level[i]);
        Py_END_ALLOW_THREADS
    }
    release(a, 3);
    Py_RETURN_NONE;
fail:
    bad_arguments(__func__);
    release(a, 3);
    return NULL;
}

/* The taps of expand_taps: i0 in [0, nrows - 2] for each output row. */
static int
get_taps(PyObject **o, Arr *a, Py_ssize_t nout, Py_ssize_t ncol)
{
    if (get_arr(o[0], &a[0], "rows", F_F32, 4, 2, 0) ||
            get_arr(o[1], &a[1], "i0", F_I64, 8, 1, 0) ||
            get_arr(o[2], &a[2], "w0", F_F32, 4, 1, 0) ||
            get_arr(o[3], &a[3], "w1", F_F32, 4, 1, 0))
        return -1;
    if (SHAPE(a[0], 1) != ncol || check_shape(&a[1], "i0", nout, 0) ||
            check_shape(&a[2], "w0", nout, 0) ||
            check_shape(&a[3], "w1", nout, 0)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "rows: wrong shape");
        return -1;
    }
    const int64_t *i0 = DATA(a[1], int64_t);
    for (Py_ssize_t r = 0; r < nout; r++)
        if (i0[r] < 0 || i0[r] + 1 >= SHAPE(a[0], 0)) {
            PyErr_SetString(PyExc_IndexError, "i0: tap outside the rows");
            return -1;
        }
    return 0;
}

static PyObject *
k_two_tap_rows(PyObject *self, PyObject *args)
{
    PyObject *o[5];
    Arr a[5];
    memset(a, 0, sizeof a);
    if (!PyArg_ParseTuple(args, "OOOOO", &o[0], &o[1], &o[2], &o[3], &o[4]))
        return NULL;
    if (get_arr(o[4], &a[4], "out", F_F32, 4, 2, 1))
        goto fail;
    Py_ssize_t ny = SHAPE(a[4], 0), nx = SHAPE(a[4], 1);
    if (get_taps(o, a, ny, nx))
        goto fail;
    {
        const float *rows = DATA(a[0], float), *w0 = DATA(a[2], float),
                    *w1 = DATA(a[3], float);
        const int64_t *i0 = DATA(a[1], int64_t);
        float *out = DATA(a[4], float);
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t r = 0; r < ny; r++) {
            const float *ra = rows + i0[r] * nx, *rb = ra + nx;
            float wa = w0[r], wb = w1[r];
            float *orow = out + r * nx;
            for (Py_ssize_t c = 0; c < nx; c++)
                orow[c] = wa * ra[c] + wb * rb[c];
        }
        Py_END_ALLOW_THREADS
    }
    release(a, 5);
    Py_RETURN_NONE;
fail:
    bad_arguments(__func__);
    release(a, 5);
    return NULL;
}

static PyObject *
k_data_and_above_bracketed(PyObject *self, PyObject *args)
{
    PyObject *o[14];
    float nsigma;
    Py_ssize_t size;
    Arr a[14];
    memset(a, 0, sizeof a);
    uint32_t *buf = NULL;
    Py_ssize_t n = 0;
    int bad = 0;
    if (!PyArg_ParseTuple(args, "OOOOOOfOOnOOOOO", &o[4], &o[0], &o[1],
                          &o[2], &o[3], &o[5], &nsigma, &o[6], &o[7], &size,
                          &o[8], &o[9], &o[10], &o[11], &o[12]))
        return NULL;
    if (get_arr(o[4], &a[4], "level", F_F32, 4, 2, 0))
        goto fail;
    Py_ssize_t ny = SHAPE(a[4], 0), nx = SHAPE(a[4], 1);
    {
        PyObject *br[4] = {o[6], o[7], o[8], o[9]};
        if (get_taps(o, a, ny, nx) ||
                get_arr(o[5], &a[5], "noise", F_F32, 4, 2, 0) ||
                get_brackets(br, a + 6, size) ||
                get_arr(o[10], &a[10], "lower", F_F32, 4, 1, 0) ||
                get_arr(o[11], &a[11], "data", F_F32, 4, 2, 1) ||
                get_arr(o[12], &a[12], "above", F_BOOL, 1, 2, 1))
            goto fail;
    }
    if (check_shape(&a[5], "noise", ny, nx) ||
            check_shape(&a[8], "coarse", ny, nx) ||
            check_shape(&a[10], "lower", NCOARSE, 0) ||
            check_shape(&a[11], "data", ny, nx) ||
            check_shape(&a[12], "above", ny, nx))
        goto fail;
    buf = malloc(sizeof(uint32_t) * size * size);
    if (!buf) {
        PyErr_NoMemory();
        goto fail;
    }
    {
        const float *rows = DATA(a[0], float), *w0 = DATA(a[2], float),
                    *w1 = DATA(a[3], float), *noise = DATA(a[5], float),
                    *lower = DATA(a[10], float);
        const int64_t *i0 = DATA(a[1], int64_t);
        /* data may be level itself: each pixel's level is read before its
           data is written (no restrict) */
        const float *level = DATA(a[4], float);
        float *data = DATA(a[11], float);
        char *above = DATA(a[12], char);
        const uint8_t *codes = DATA(a[6], uint8_t),
                      *coarse = DATA(a[8], uint8_t);
        const uint32_t *bits = DATA(a[7], uint32_t);
        Py_ssize_t ncolp = SHAPE(a[6], 1);
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t r = 0; r < ny && !bad; r++) {
            const float *ra = rows + i0[r] * nx, *rb = ra + nx;
            float wa = w0[r], wb = w1[r];
            for (Py_ssize_t c = 0; c < nx; c++) {
                Py_ssize_t k = r * nx + c;
                float thr = nsigma * noise[k];
                float bkg = wa * ra[c] + wb * rb[c];
                float lev = level[k];
                float f;
                if (coarse[k] >= NCOARSE) {
                    bad = 1;
                    break;
                }
                f = lower[coarse[k]];
                float d = 100.0f * (1.0f - f / lev) - bkg;
                if (d > thr) {
                    int64_t v = exact_at(codes, bits, ncolp, size, r, c,
                                         coarse[k], below_at(&a[9], k), buf);
                    uint32_t vb;
                    if (v < 0) {
                        bad = 1;
                        break;
                    }
                    vb = (uint32_t)v;
                    memcpy(&f, &vb, sizeof f);
                    d = 100.0f * (1.0f - f / lev) - bkg;
                }
                data[k] = d;
                above[k] = d > thr;
                n += d > thr;
            }
        }
        Py_END_ALLOW_THREADS
    }
    free(buf);
    release(a, 14);
    if (bad)
        return bracket_error();
    return PyLong_FromSsize_t(n);
fail:
    bad_arguments(__func__);
    free(buf);
    release(a, 14);
    return NULL;
}

static PyObject *
k_data_and_below(PyObject *self, PyObject *args)
{
    PyObject *o[5];
    float nsigma;
    Arr a[5];
    memset(a, 0, sizeof a);
    Py_ssize_t n = 0;
    if (!PyArg_ParseTuple(args, "OOOfOO", &o[0], &o[1], &o[2], &nsigma,
                          &o[3], &o[4]))
        return NULL;
    if (get_arr(o[0], &a[0], "inverted", F_F32, 4, 2, 0) ||
            get_arr(o[1], &a[1], "background", F_F32, 4, 2, 0) ||
            get_arr(o[2], &a[2], "noise", F_F32, 4, 2, 0) ||
            get_arr(o[3], &a[3], "data", F_F32, 4, 2, 1) ||
            get_arr(o[4], &a[4], "below", F_BOOL, 1, 2, 1))
        goto fail;
    Py_ssize_t ny = SHAPE(a[0], 0), nx = SHAPE(a[0], 1);
    if (check_shape(&a[1], "background", ny, nx) ||
            check_shape(&a[2], "noise", ny, nx) ||
            check_shape(&a[3], "data", ny, nx) ||
            check_shape(&a[4], "below", ny, nx))
        goto fail;
    {
        const float *inv = DATA(a[0], float), *bkg = DATA(a[1], float),
                    *noise = DATA(a[2], float);
        float *data = DATA(a[3], float);
        char *below = DATA(a[4], char);
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t k = 0; k < ny * nx; k++) {
            float d = inv[k] - bkg[k];
            int b = !(d > nsigma * noise[k]);
            data[k] = d;
            below[k] = (char)b;
            n += !b;
        }
        Py_END_ALLOW_THREADS
    }
    release(a, 5);
    return PyLong_FromSsize_t(n);
fail:
    bad_arguments(__func__);
    release(a, 5);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* The full exact median (medfilt.median_of_padded): Huang's sliding
   histogram over 14-bit codes, each bin holding count << 48 | sum of keys */

static PyObject *
k_encode_keys(PyObject *self, PyObject *args)
{
    PyObject *o[4];
    double lo, scale;
    Py_ssize_t nbins;
    Arr a[4];
    memset(a, 0, sizeof a);
    if (!PyArg_ParseTuple(args, "OddnOOO", &o[0], &lo, &scale, &nbins, &o[1],
                          &o[2], &o[3]))
        return NULL;
    if (get_arr(o[0], &a[0], "padded", F_F32, 4, 2, 0) ||
            get_arr(o[1], &a[1], "packed", F_U64, 8, 2, 1) ||
            get_arr(o[2], &a[2], "kmin", F_I64, 8, 1, 1) ||
            get_arr(o[3], &a[3], "kmax", F_I64, 8, 1, 1))
        goto fail;
    Py_ssize_t nr = SHAPE(a[0], 0), nc = SHAPE(a[0], 1);
    if (nbins < 1 || nbins > 65536 ||
            check_shape(&a[1], "packed", nc, nr) ||
            check_shape(&a[2], "kmin", nbins, 0) ||
            check_shape(&a[3], "kmax", nbins, 0))
        goto fail;
    {
        const float *padded = DATA(a[0], float);
        uint64_t *packed = DATA(a[1], uint64_t);
        int64_t *kmin = DATA(a[2], int64_t), *kmax = DATA(a[3], int64_t);
        int64_t top = nbins - 1;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t q = 0; q < nbins; q++) {
            kmin[q] = 0xFFFFFFFFLL;
            kmax[q] = -1;
        }
        /* blocks of 64 rows: contiguous writes of the transposed array
           while the rows being read stay in cache */
        for (Py_ssize_t r0 = 0; r0 < nr; r0 += 64) {
            Py_ssize_t r1 = r0 + 64 < nr ? r0 + 64 : nr;
            for (Py_ssize_t c = 0; c < nc; c++)
                for (Py_ssize_t r = r0; r < r1; r++) {
                    float v = padded[r * nc + c];
                    int64_t q = bin_code(v, lo, scale, top);
                    int64_t k = float_key(float_bits(v));
                    packed[c * nr + r] = ((uint64_t)k << 16) | (uint64_t)q;
                    if (k < kmin[q])
                        kmin[q] = k;
                    if (k > kmax[q])
                        kmax[q] = k;
                }
        }
        Py_END_ALLOW_THREADS
    }
    release(a, 4);
    Py_RETURN_NONE;
fail:
    bad_arguments(__func__);
    release(a, 4);
    return NULL;
}

static void
median_rows(const uint64_t *packed, Py_ssize_t nrp, const char *single,
            Py_ssize_t size, Py_ssize_t nbins, Py_ssize_t row0,
            Py_ssize_t row1, Py_ssize_t ncol, uint32_t *out, int64_t *hist,
            int64_t *blk, int64_t *buf)
{
    const int64_t kth = (int64_t)(size * size) / 2;
    const int64_t one = (int64_t)1 << 48, low = one - 1;
    int64_t mb = 0;
#define PK(c, r) ((int64_t)packed[(c) * nrp + (r)])
    for (Py_ssize_t i = row0; i < row1; i++) {
        for (Py_ssize_t c = 0; c < size; c++)
            for (Py_ssize_t r = i; r < i + size; r++) {
                int64_t v = PK(c, r), q = v & 0xFFFF;
                hist[q] += one + (v >> 16);
                blk[q >> 4] += 1;
            }
        int64_t belowb = 0;
        for (Py_ssize_t c = 0; c < size; c++)
            for (Py_ssize_t r = i; r < i + size; r++)
                belowb += ((PK(c, r) & 0xFFFF) >> 4) < mb;
        for (Py_ssize_t j = 0; j < ncol; j++) {
            if (j > 0) {
                Py_ssize_t cout = j - 1, cin = j + size - 1;
                for (Py_ssize_t r = i; r < i + size; r++) {
                    int64_t v = PK(cout, r), q = v & 0xFFFF;
                    hist[q] -= one + (v >> 16);
                    blk[q >> 4] -= 1;
                    belowb -= (q >> 4) < mb;
                    v = PK(cin, r);
                    q = v & 0xFFFF;
                    hist[q] += one + (v >> 16);
                    blk[q >> 4] += 1;
                    belowb += (q >> 4) < mb;
                }
            }
            /* the block holding the median: belowb <= kth < belowb +
               blk[mb] */
            while (belowb > kth) {
                mb--;
                belowb -= blk[mb];
            }
            while (belowb + blk[mb] <= kth) {
                belowb += blk[mb];
                mb++;
            }
            /* the bin inside the block */
            int64_t below = belowb, m = mb << 4, n, key;
            while (below + (hist[m] >> 48) <= kth) {
                below += hist[m] >> 48;
                m++;
            }
            n = hist[m] >> 48;
            if (n == 1) {
                key = hist[m] & low;
            } else if (single[m]) {
                /* every pixel of the image in this bin has the same value */
                key = (hist[m] & low) / n;
            } else {
                int64_t t = kth - below;
                Py_ssize_t k = 0;
                for (Py_ssize_t c = j; c < j + size; c++)
                    for (Py_ssize_t r = i; r < i + size; r++) {
                        int64_t v = PK(c, r);
                        if ((v & 0xFFFF) == m)
                            buf[k++] = v >> 16;
                    }
                for (Py_ssize_t a = 1; a < k; a++) {
                    int64_t v = buf[a];
                    Py_ssize_t b = a - 1;
                    while (b >= 0 && buf[b] > v) {
                        buf[b + 1] = buf[b];
                        b--;
                    }
                    buf[b + 1] = v;
                }
                key = buf[t];
            }
            out[(i - row0) * ncol + j] = key_bits((uint64_t)key);
        }
        /* empty the histogram for the next row */
        for (Py_ssize_t c = ncol - 1; c < ncol - 1 + size; c++)
            for (Py_ssize_t r = i; r < i + size; r++) {
                int64_t v = PK(c, r), q = v & 0xFFFF;
                hist[q] -= one + (v >> 16);
                blk[q >> 4] -= 1;
            }
    }
#undef PK
}

static PyObject *
k_median_rows(PyObject *self, PyObject *args)
{
    PyObject *o[3];
    Py_ssize_t size, nbins, row0, row1;
    Arr a[3];
    memset(a, 0, sizeof a);
    int64_t *work = NULL;
    if (!PyArg_ParseTuple(args, "OOnnnnO", &o[0], &o[1], &size, &nbins,
                          &row0, &row1, &o[2]))
        return NULL;
    if (get_arr(o[0], &a[0], "packed", F_U64, 8, 2, 0) ||
            get_arr(o[1], &a[1], "single", F_BOOL, 1, 1, 0) ||
            get_arr(o[2], &a[2], "out", F_U32, 4, 2, 1))
        goto fail;
    /* packed is the transposed padded image: [column, row] */
    Py_ssize_t ncolp = SHAPE(a[0], 0), nrp = SHAPE(a[0], 1);
    Py_ssize_t ncol = SHAPE(a[2], 1);
    if (size < 1 || nbins < 16 || nbins > 65536 || nbins % 16 ||
            row0 < 0 || row1 < row0 || row1 + size - 1 > nrp ||
            ncol + size - 1 != ncolp || SHAPE(a[2], 0) != row1 - row0 ||
            check_shape(&a[1], "single", nbins, 0)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "median_rows: bad shapes");
        goto fail;
    }
    work = calloc((size_t)(nbins + nbins / 16 + 1 + size * size),
                  sizeof(int64_t));
    if (!work) {
        PyErr_NoMemory();
        goto fail;
    }
    {
        const uint64_t *packed = DATA(a[0], uint64_t);
        const char *single = DATA(a[1], char);
        uint32_t *out = DATA(a[2], uint32_t);
        int bad = 0;
        Py_BEGIN_ALLOW_THREADS
        /* the codes of the rows used index the nbins-bin histogram */
        for (Py_ssize_t c = 0; c < ncolp; c++)
            for (Py_ssize_t r = row0; r < row1 + size - 1; r++)
                bad |= (Py_ssize_t)(packed[c * nrp + r] & 0xFFFF) >= nbins;
        if (!bad)
            median_rows(packed, nrp, single, size, nbins, row0, row1, ncol,
                        out, work, work + nbins,
                        work + nbins + nbins / 16 + 1);
        Py_END_ALLOW_THREADS
        if (bad) {
            PyErr_SetString(PyExc_ValueError, "packed: codes >= nbins");
            goto fail;
        }
    }
    free(work);
    release(a, 3);
    Py_RETURN_NONE;
fail:
    bad_arguments(__func__);
    free(work);
    release(a, 3);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* 8-connected labelling (segmentation.label8): two-pass union-find */

static inline int32_t
find_root(int32_t *parent, int32_t k)
{
    while (parent[k] != k) {
        parent[k] = parent[parent[k]];
        k = parent[k];
    }
    return k;
}

static PyObject *
k_label8(PyObject *self, PyObject *args)
{
    PyObject *o[3];
    Arr a[3];
    memset(a, 0, sizeof a);
    int32_t *parent = NULL, *final = NULL;
    Py_ssize_t npix = 0;
    int32_t n = 0, m = 0;
    int nomem = 0;
    if (!PyArg_ParseTuple(args, "OOO", &o[0], &o[1], &o[2]))
        return NULL;
    if (get_arr(o[0], &a[0], "mask", F_BOOL, 1, 2, 0) ||
            get_arr(o[1], &a[1], "out", F_I32, 4, 2, 1) ||
            get_arr(o[2], &a[2], "where", F_I64, 8, 1, 1))
        goto fail;
    Py_ssize_t ny = SHAPE(a[0], 0), nx = SHAPE(a[0], 1);
    if (check_shape(&a[1], "out", ny, nx) ||
            check_shape(&a[2], "where", ny * nx, 0))
        goto fail;
    if (ny * nx >= INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "label8: mask too large");
        goto fail;
    }
    {
        const char *mask = DATA(a[0], char);
        int32_t *out = DATA(a[1], int32_t);
        int64_t *where = DATA(a[2], int64_t);
        Py_ssize_t cap = 64;
        static const int dr[4] = {0, -1, -1, -1}, dc[4] = {-1, -1, 0, 1};
        Py_BEGIN_ALLOW_THREADS
        parent = malloc(sizeof(int32_t) * cap);
        if (!parent)
            nomem = 1;
        else
            parent[0] = 0;
        for (Py_ssize_t r = 0; r < ny && !nomem; r++)
            for (Py_ssize_t c = 0; c < nx; c++) {
                if (!mask[r * nx + c])
                    continue;
                /* the neighbours already visited: W, NW, N, NE; the
                   smallest root wins (roots are created in raster order,
                   so a group's root is the label of its first pixel) */
                int32_t best = 0;
                for (int t = 0; t < 4; t++) {
                    Py_ssize_t rr = r + dr[t], cc = c + dc[t];
                    if (rr < 0 || cc < 0 || cc >= nx)
                        continue;
                    int32_t lab = out[rr * nx + cc];
                    if (lab == 0)
                        continue;
                    int32_t root = find_root(parent, lab);
                    if (best == 0) {
                        best = root;
                    } else if (root != best) {
                        if (root < best) {
                            parent[best] = root;
                            best = root;
                        } else {
                            parent[root] = best;
                        }
                    }
                }
                if (best == 0) {
                    n++;
                    if (n >= cap) {
                        int32_t *grown = realloc(parent,
                                                 sizeof(int32_t) * 2 * cap);
                        if (!grown) {
                            nomem = 1;
                            break;
                        }
                        parent = grown;
                        cap *= 2;
                    }
                    parent[n] = n;
                    best = n;
                }
                out[r * nx + c] = best;
                where[npix++] = r * nx + c;
            }
        /* final labels: the roots in increasing order are 1 ... m */
        if (!nomem) {
            final = calloc((size_t)n + 1, sizeof(int32_t));
            if (!final)
                nomem = 1;
        }
        if (!nomem) {
            for (int32_t k = 1; k <= n; k++)
                if (find_root(parent, k) == k)
                    final[k] = ++m;
            for (Py_ssize_t i = 0; i < npix; i++)
                out[where[i]] = final[find_root(parent, out[where[i]])];
        }
        Py_END_ALLOW_THREADS
    }
    free(parent);
    free(final);
    release(a, 3);
    if (nomem)
        return PyErr_NoMemory();
    return Py_BuildValue("in", (int)m, npix);
fail:
    bad_arguments(__func__);
    release(a, 3);
    return NULL;
}

/* ---------------------------------------------------------------------- */

static PyMethodDef methods[] = {
    {"fill_and_pad", k_fill_and_pad, METH_VARARGS,
     "fill_and_pad(sci, dq, flags, level, half, reflect, padded, mask) -> n"},
    {"coarse_codes", k_coarse_codes, METH_VARARGS,
     "coarse_codes(padded, lo, scale, nbins, codes, kmin)"},
    {"coarse_rows", k_coarse_rows, METH_VARARGS,
     "coarse_rows(codes, size, row0, row1, ncol, coarse, below)"},
    {"exact_grid", k_exact_grid, METH_VARARGS,
     "exact_grid(codes, bits, size, coarse, below, step, out)"},
    {"exact_at", k_exact_at, METH_VARARGS,
     "exact_at(codes, bits, size, coarse, below, i, j) -> float32 bits"},
    {"deficit", k_deficit, METH_VARARGS, "deficit(filtered, level, out)"},
    {"two_tap_rows", k_two_tap_rows, METH_VARARGS,
     "two_tap_rows(rows, i0, w0, w1, out)"},
    {"data_and_above_bracketed", k_data_and_above_bracketed, METH_VARARGS,
     "data_and_above_bracketed(level, rows, i0, w0, w1, noise, nsigma, "
     "codes, bits, size, coarse, below, lower, data, above) -> n"},
    {"data_and_below", k_data_and_below, METH_VARARGS,
     "data_and_below(inverted, background, noise, nsigma, data, below) -> n"},
    {"encode_keys", k_encode_keys, METH_VARARGS,
     "encode_keys(padded, lo, scale, nbins, packed, kmin, kmax)"},
    {"median_rows", k_median_rows, METH_VARARGS,
     "median_rows(packed, single, size, nbins, row0, row1, out)"},
    {"label8", k_label8, METH_VARARGS,
     "label8(mask, out, where) -> (n, npix)"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernels",
    "Compiled loops of the search (see the C source's header).", -1,
    methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC
PyInit__kernels(void)
{
    return PyModule_Create(&module);
}
