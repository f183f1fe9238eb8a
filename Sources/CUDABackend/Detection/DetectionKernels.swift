import CUDA

/// The detector's own steps on the GPU (cuDNN has none of them): the transform,
/// top-k selection, box decoding, NMS, MultiScaleRoIAlign and torchvision's
/// post-processing. Each mirrors the CPU implementation in `Models` expression for
/// expression, in float32, compiled with `--fmad=false` so that no multiply-add is
/// fused where the CPU rounds twice; exp and log2 go through double, as close to
/// correctly rounded as the host's float functions. Shapes are fixed per pass: counts
/// live on the device and everything past them is masked, so a pass can be replayed as
/// one CUDA graph.
package enum DetectionKernels {
    package static let names = [
        "mgpr_det_transform", "mgpr_det_rpn_keys", "mgpr_det_select", "mgpr_det_rpn_decode", "mgpr_det_nms_rank",
        "mgpr_det_nms_mask", "mgpr_det_nms_keep", "mgpr_det_gather_boxes", "mgpr_det_roi_align", "mgpr_det_box_candidates",
        "mgpr_det_gather", "mgpr_det_class_keys", "mgpr_det_class_decode", "mgpr_det_select_reset", "mgpr_det_select_histogram",
        "mgpr_det_select_digit", "mgpr_det_select_gather", "mgpr_det_select_sort",
    ]
    package static let options = ["--fmad=false"]

    package static let source = Kernels.gridStride + #"""
typedef unsigned long long u64;
#define NO_KEY 0xFFFFFFFFFFFFFFFFull

__device__ __forceinline__ float exp_f(float x) { return (float)exp((double)x); }
__device__ __forceinline__ float log2_f(float x) { return (float)log2((double)x); }

// TopK's key: ascending keys are decreasing values, then increasing positions (-0 as +0).
__device__ __forceinline__ u64 rank_key(float v, unsigned int position) {
    unsigned int bits = __float_as_uint(v == 0.f ? 0.f : v);
    unsigned int ordered = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
    return ((u64)(~ordered) << 32) | position;
}

// Sorts n (a power of two) keys ascending, by the whole block, in global memory.
__device__ void block_sort(u64* a, int n) {
    for (int size = 2; size <= n; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int i = threadIdx.x; i < n / 2; i += blockDim.x) {
                int lo = 2 * i - (i & (stride - 1)), hi = lo + stride;
                bool ascending = (lo & size) == 0;
                u64 x = a[lo], y = a[hi];
                if ((x > y) == ascending) { a[lo] = y; a[hi] = x; }
            }
            __syncthreads();
        }
    }
}

// BoxCoder.decode, then the box clipped to width x height.
__device__ void decode(float d0, float d1, float d2, float d3, const float* box, float wx, float wy, float ww, float wh,
                       float clip, float width, float height, float* out) {
    float bw = box[2] - box[0], bh = box[3] - box[1];
    float ctrX = box[0] + 0.5f * bw, ctrY = box[1] + 0.5f * bh;
    float dx = d0 / wx, dy = d1 / wy;
    float dw = fminf(d2 / ww, clip), dh = fminf(d3 / wh, clip);
    float predCtrX = dx * bw + ctrX, predCtrY = dy * bh + ctrY;
    float predW = exp_f(dw) * bw, predH = exp_f(dh) * bh;
    float halfW = 0.5f * predW, halfH = 0.5f * predH;
    out[0] = fminf(fmaxf(predCtrX - halfW, 0.f), width);
    out[1] = fminf(fmaxf(predCtrY - halfH, 0.f), height);
    out[2] = fminf(fmaxf(predCtrX + halfW, 0.f), width);
    out[3] = fminf(fmaxf(predCtrY + halfH, 0.f), height);
}

// A level's anchor at location p (row-major) for anchor a of its cell, decoded from the
// deltas at d (one plane apart, weights 1) and clipped.
__device__ void decode_on_anchor(const float* d, long long plane, const float* cell, int a, long long p, int featureWidth,
                                 float strideX, float strideY, float clip, float width, float height, float* out) {
    float sx = (float)(p % featureWidth) * strideX, sy = (float)(p / featureWidth) * strideY;
    float anchor[4] = {cell[a * 4] + sx, cell[a * 4 + 1] + sy, cell[a * 4 + 2] + sx, cell[a * 4 + 3] + sy};
    decode(d[0], d[plane], d[2 * plane], d[3 * plane], anchor, 1.f, 1.f, 1.f, 1.f, clip, width, height, out);
}

// Sample i of the tiles as a reader converts it: float32 as it is, or a stored unsigned
// sample of `bytes` bytes (1 or 2) times `factor`.
__device__ __forceinline__ float tile_sample(const void* src, long long i, int bytes, float factor) {
    if (bytes == 1) return (float)((const unsigned char*)src)[i] * factor;
    if (bytes == 2) return (float)((const unsigned short*)src)[i] * factor;
    return ((const float*)src)[i];
}

// DetectorTransform.apply: normalise the four neighbours, interpolate (bilinear,
// align_corners=False), zero padding to ph x pw. NCHW in (as tile_sample reads it),
// NCHW float32 out.
extern "C" __global__ void mgpr_det_transform(const void* src, int bytes, float factor, float* dst, const float* scale,
                                              const float* shift, int channels, int height, int width, int rh, int rw, int ph,
                                              int pw, long long count) {
    GRID_STRIDE(i, count) {
        int x = (int)(i % pw);
        long long rest = i / pw;
        int y = (int)(rest % ph);
        rest /= ph;
        int c = (int)(rest % channels);
        long long image = rest / channels;
        float v = 0.f;
        if (y < rh && x < rw) {
            float sy = (float)height / (float)rh, sx = (float)width / (float)rw;
            float fy = fmaxf(sy * ((float)y + 0.5f) - 0.5f, 0.f), fx = fmaxf(sx * ((float)x + 0.5f) - 0.5f, 0.f);
            int y0 = (int)fy, x0 = (int)fx;
            int y1 = y0 + (y0 < height - 1 ? 1 : 0), x1 = x0 + (x0 < width - 1 ? 1 : 0);
            float wy1 = fy - (float)y0, wx1 = fx - (float)x0, wy0 = 1.f - wy1, wx0 = 1.f - wx1;
            long long plane = (image * channels + c) * (long long)height * width;
            float s = scale[c], t = shift[c];
            float a = tile_sample(src, plane + (long long)y0 * width + x0, bytes, factor) * s + t;
            float b = tile_sample(src, plane + (long long)y0 * width + x1, bytes, factor) * s + t;
            float c0 = tile_sample(src, plane + (long long)y1 * width + x0, bytes, factor) * s + t;
            float d = tile_sample(src, plane + (long long)y1 * width + x1, bytes, factor) * s + t;
            v = wy0 * (wx0 * a + wx1 * b) + wy1 * (wx0 * c0 + wx1 * d);
        }
        dst[i] = v;
    }
}

// One level's objectness [n, anchors, plane] as keys in the RPN's order (location-major,
// then anchor), [n, anchors * plane].
extern "C" __global__ void mgpr_det_rpn_keys(const float* objectness, u64* keys, int anchors, long long plane, long long count) {
    GRID_STRIDE(i, count) {
        long long perImage = anchors * plane, image = i / perImage, j = i % perImage;
        long long p = j / anchors;
        int k = (int)(j % anchors);
        keys[i] = rank_key(objectness[image * perImage + k * plane + p], (unsigned int)j);
    }
}

// Pads a segment's `taken` gathered keys with NO_KEY to `width` (a power of two >= k),
// sorts them by the whole block and writes the first k to out.
__device__ void select_finish(u64* sorted, unsigned int taken, int width, int k, u64* out) {
    for (int i = (int)taken + threadIdx.x; i < width; i += blockDim.x) sorted[i] = NO_KEY;
    __syncthreads();
    block_sort(sorted, width);
    for (int i = threadIdx.x; i < k; i += blockDim.x) out[i] = sorted[i];
}

// The digit of the k-th smallest key at `shift`, from the histogram of the keys under
// `prefix`: the prefix extended by it, and the key's rank among those under the new one.
__device__ void select_digit(const unsigned int* histogram, int shift, u64* prefix, unsigned int* rank) {
    unsigned int below = 0;
    int digit = 0;
    for (; digit < 255; digit++) {
        if (below + histogram[digit] >= *rank) break;
        below += histogram[digit];
    }
    *rank -= below;
    *prefix |= (u64)digit << shift;
}

__device__ __forceinline__ u64 select_mask(int shift) { return shift >= 56 ? 0ull : ~0ull << (shift + 8); }

// One block per segment of `length` keys (segments `stride` apart; with `lengths`, each
// segment's own count, at most `length`), distinct but for NO_KEY (absent): its k
// smallest present, ascending, to out (k slots per segment, NO_KEY past those present).
// The k-th smallest is found digit by digit (radix selection), then the keys up to it
// are sorted in scratch (`width` slots per segment, a power of two >= k).
extern "C" __global__ void mgpr_det_select(const u64* keys, long long length, const u64* lengths, long long stride, int k,
                                           u64* scratch, int width, u64* out) {
    __shared__ unsigned int histogram[256];
    __shared__ u64 prefixShared;
    __shared__ unsigned int rankShared, taken;
    const u64* segment = keys + blockIdx.x * stride;
    if (lengths) length = min(length, (long long)lengths[blockIdx.x]);
    u64* sorted = scratch + (long long)blockIdx.x * width;
    u64 threshold = NO_KEY;
    if (length > k) {
        u64 prefix = 0;
        unsigned int rank = (unsigned int)k;  // of the wanted key among those under the prefix, from 1
        for (int shift = 56; shift >= 0; shift -= 8) {
            u64 mask = select_mask(shift);
            for (int b = threadIdx.x; b < 256; b += blockDim.x) histogram[b] = 0;
            __syncthreads();
            for (long long i = threadIdx.x; i < length; i += blockDim.x) {
                u64 key = segment[i];
                if ((key & mask) == prefix) atomicAdd(&histogram[(key >> shift) & 255], 1u);
            }
            __syncthreads();
            if (threadIdx.x == 0) {
                select_digit(histogram, shift, &prefix, &rank);
                rankShared = rank;
                prefixShared = prefix;
            }
            __syncthreads();
            rank = rankShared;
            prefix = prefixShared;
            __syncthreads();
        }
        threshold = prefix;
    }
    if (threadIdx.x == 0) taken = 0;
    __syncthreads();
    for (long long i = threadIdx.x; i < length; i += blockDim.x) {
        u64 key = segment[i];
        if (key <= threshold && key != NO_KEY) sorted[atomicAdd(&taken, 1u)] = key;
    }
    __syncthreads();
    select_finish(sorted, taken, width, k, out + (long long)blockIdx.x * k);
}

// The same selection for long segments, over several blocks each: every segment in
// `chunks` chunks of `chunk` keys, a block per chunk (those past a segment's own count,
// with `lengths`, idle). Per segment, `state` holds the prefix, the rank and the count
// gathered (3 u64) and `histograms` 256 counts. Launched as reset; then for each shift
// 56, 48, ... 0: histogram, digit; then gather and sort.
extern "C" __global__ void mgpr_det_select_reset(unsigned int* histograms, long long count) {
    GRID_STRIDE(i, count) histograms[i] = 0;
}

// The chunk of segment blockIdx.x / chunks this block reads: [*begin, *end).
__device__ __forceinline__ void select_chunk(long long length, const u64* lengths, int chunks, int chunk, long long* begin,
                                             long long* end) {
    long long s = blockIdx.x / chunks;
    if (lengths) length = min(length, (long long)lengths[s]);
    *begin = (long long)(blockIdx.x % chunks) * chunk;
    *end = min(length, *begin + chunk);
}

extern "C" __global__ void mgpr_det_select_histogram(const u64* keys, long long length, const u64* lengths, long long stride,
                                                     int chunks, int chunk, int shift, const u64* state,
                                                     unsigned int* histograms) {
    __shared__ unsigned int local[256];
    long long s = blockIdx.x / chunks, begin, end;
    select_chunk(length, lengths, chunks, chunk, &begin, &end);
    const u64* segment = keys + s * stride;
    u64 mask = select_mask(shift), prefix = shift >= 56 ? 0ull : state[s * 3];
    for (int b = threadIdx.x; b < 256; b += blockDim.x) local[b] = 0;
    __syncthreads();
    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
        u64 key = segment[i];
        if ((key & mask) == prefix) atomicAdd(&local[(key >> shift) & 255], 1u);
    }
    __syncthreads();
    for (int b = threadIdx.x; b < 256; b += blockDim.x)
        if (local[b]) atomicAdd(&histograms[s * 256 + b], local[b]);
}

// One block per segment: the digit at `shift` (the first from rank k), the histogram
// zeroed for the next.
extern "C" __global__ void mgpr_det_select_digit(unsigned int* histograms, int shift, int k, u64* state) {
    long long s = blockIdx.x;
    unsigned int* histogram = histograms + s * 256;
    if (threadIdx.x == 0) {
        u64 prefix = shift >= 56 ? 0ull : state[s * 3];
        unsigned int rank = shift >= 56 ? (unsigned int)k : (unsigned int)state[s * 3 + 1];
        select_digit(histogram, shift, &prefix, &rank);
        state[s * 3] = prefix;
        state[s * 3 + 1] = rank;
        state[s * 3 + 2] = 0;
    }
    __syncthreads();
    for (int b = threadIdx.x; b < 256; b += blockDim.x) histogram[b] = 0;
}

// A block per chunk: the present keys up to the k-th, to the segment's scratch.
extern "C" __global__ void mgpr_det_select_gather(const u64* keys, long long length, const u64* lengths, long long stride,
                                                  int chunks, int chunk, u64* state, u64* scratch, int width) {
    long long s = blockIdx.x / chunks, begin, end;
    select_chunk(length, lengths, chunks, chunk, &begin, &end);
    const u64* segment = keys + s * stride;
    u64 threshold = state[s * 3];
    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
        u64 key = segment[i];
        if (key <= threshold && key != NO_KEY) scratch[s * width + atomicAdd(&state[s * 3 + 2], 1ull)] = key;
    }
}

// One block per segment: the gathered keys sorted, the first k to out.
extern "C" __global__ void mgpr_det_select_sort(const u64* state, u64* scratch, int width, int k, u64* out) {
    long long s = blockIdx.x;
    select_finish(scratch + s * width, (unsigned int)state[s * 3 + 2], width, k, out + s * k);
}

// The RPN's candidates of one level: each selected anchor's box decoded (weights 1) and
// clipped to the resized image, its objectness as a probability, valid when both sides
// are at least 1e-3. Written at firstSlot + rank of the image's perImage slots.
extern "C" __global__ void mgpr_det_rpn_decode(const u64* selected, int k, const float* objectness, const float* deltas,
                                               int anchors, int featureWidth, long long plane, float strideX,
                                               float strideY, const float* cell, int level, int perImage, int firstSlot,
                                               float width, float height, float clip, float* boxes, float* scores,
                                               int* groups, int* valid, long long count) {
    GRID_STRIDE(i, count) {
        long long image = i / k;
        int rank = (int)(i % k);
        long long slot = image * perImage + firstSlot + rank;
        u64 key = selected[i];
        if (key == NO_KEY) { valid[slot] = 0; continue; }
        unsigned int j = (unsigned int)(key & 0xFFFFFFFFull);
        long long p = j / anchors;
        int a = (int)(j % anchors);
        float logit = objectness[(image * anchors + a) * plane + p];
        float* box = boxes + slot * 4;
        decode_on_anchor(deltas + (image * 4 * anchors + 4 * a) * plane + p, plane, cell, a, p, featureWidth, strideX, strideY,
                         clip, width, height, box);
        valid[slot] = (box[2] - box[0] >= 1e-3f && box[3] - box[1] >= 1e-3f) ? 1 : 0;
        scores[slot] = 1.f / (1.f + exp_f(-logit));
        groups[slot] = level;
    }
}

// NMS.batched over each image's valid candidates (`perImage` slots), in three launches,
// the way torchvision's CUDA NMS works but with the last step on the device too, so
// that a pass stays one CUDA graph. By decreasing score (equal scores by slot), each
// candidate is kept unless an earlier kept one of its group overlaps it by IoU above
// the threshold, until `limit` are kept. Up to 1000 candidates the groups are apart by
// coordinate offsets, as torchvision does there, rounding included.
//
// 1. rank (one block per image): the valid candidates sorted, as `ranked` rows of 6
//    floats (the box as compared, its area, its group) with their slots in `order`
//    and their number in `rankedCounts`.
__device__ __forceinline__ bool nms_offsets(int n) { return n * 4 <= 4000; }

extern "C" __global__ void mgpr_det_nms_rank(const float* boxes, const float* scores, const int* groups, const int* valid,
                                             int perImage, u64* scratch, int width, float* ranked, int* order,
                                             int* rankedCounts) {
    __shared__ float largest[1024];
    __shared__ unsigned int countShared;
    long long image = blockIdx.x;
    const float* b = boxes + image * perImage * 4;
    const float* s = scores + image * perImage;
    const int* g = groups + image * perImage;
    const int* ok = valid + image * perImage;
    u64* keys = scratch + image * width;
    if (threadIdx.x == 0) countShared = 0;
    __syncthreads();
    unsigned int count = 0;
    float top = -__int_as_float(0x7f800000);
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        if (i < perImage && ok[i]) {
            keys[i] = rank_key(s[i], (unsigned int)i);
            count++;
            top = fmaxf(top, fmaxf(fmaxf(b[i * 4], b[i * 4 + 1]), fmaxf(b[i * 4 + 2], b[i * 4 + 3])));
        } else {
            keys[i] = NO_KEY;
        }
    }
    atomicAdd(&countShared, count);
    largest[threadIdx.x] = top;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half >>= 1) {
        if (threadIdx.x < half) largest[threadIdx.x] = fmaxf(largest[threadIdx.x], largest[threadIdx.x + half]);
        __syncthreads();
    }
    int n = (int)countShared;
    bool offsets = nms_offsets(n);
    float step = largest[0] + 1.f;
    block_sort(keys, width);
    for (int r = threadIdx.x; r < n; r += blockDim.x) {
        int i = (int)(keys[r] & 0xFFFFFFFFull);
        float offset = offsets ? (float)g[i] * step : 0.f;
        float* o = ranked + (image * perImage + r) * 6;
        o[0] = b[i * 4] + offset; o[1] = b[i * 4 + 1] + offset; o[2] = b[i * 4 + 2] + offset; o[3] = b[i * 4 + 3] + offset;
        o[4] = (o[2] - o[0]) * (o[3] - o[1]);
        o[5] = (float)g[i];
        order[image * perImage + r] = i;
    }
    if (threadIdx.x == 0) rankedCounts[image] = n;
}

// 2. mask (grid-stride over images x words x rows): bit k of word w of ranked row i says
//    that row i, if kept, suppresses row 64 w + k (a later one). Only the words from a
//    row's own on are kept, the only ones the keep pass reads: per block of 64 rows b,
//    its words b... one after another, each 64 rows wide (a row's neighbours adjacent,
//    as the kernel's threads write them), nms_mask_words(words) per image.
__device__ __forceinline__ long long nms_mask_words(int words) { return 32ll * words * (words + 1); }
__device__ __forceinline__ long long nms_mask_at(int row, int word, int words) {
    long long b = row / 64;
    return 64 * (b * words - b * (b - 1) / 2) + (word - b) * 64 + (row - 64 * b);
}
extern "C" __global__ void mgpr_det_nms_mask(const float* ranked, const int* rankedCounts, int perImage, int words,
                                             float threshold, u64* mask, long long count) {
    GRID_STRIDE(e, count) {
        int row = (int)(e % perImage);
        long long rest = e / perImage;
        int word = (int)(rest % words);
        long long image = rest / words;
        int n = rankedCounts[image], first = word * 64;
        if (row >= n || first + 63 <= row || first >= n) continue;
        bool offsets = nms_offsets(n);
        const float* rows = ranked + image * perImage * 6;
        const float* a = rows + (long long)row * 6;
        float x1 = a[0], y1 = a[1], x2 = a[2], y2 = a[3], area = a[4], group = a[5];
        u64 bits = 0;
        for (int j = max(first, row + 1); j < min(first + 64, n); j++) {
            const float* o = rows + (long long)j * 6;
            if (!offsets && o[5] != group) continue;
            float w = fmaxf(0.f, fminf(x2, o[2]) - fmaxf(x1, o[0]));
            float h = fmaxf(0.f, fminf(y2, o[3]) - fmaxf(y1, o[1]));
            float inter = w * h;
            if (inter / (area + o[4] - inter) > threshold) bits |= 1ull << (j - first);
        }
        mask[image * nms_mask_words(words) + nms_mask_at(row, word, words)] = bits;
    }
}

// 3. keep (one block per image): 64 rows at a time, one thread walks them against the
//    suppressed bits so far and the mask's diagonal word, then the block adds the kept
//    rows' masks to the later words. `removed`: words per image of scratch.
extern "C" __global__ void mgpr_det_nms_keep(const u64* mask, const int* rankedCounts, const int* order, int perImage,
                                             int words, int limit, u64* removed, int* keptSlots, int* keptCounts) {
    __shared__ u64 diagonal[64];
    __shared__ u64 keptBits;
    __shared__ int keptShared;
    long long image = blockIdx.x;
    int n = rankedCounts[image], used = (n + 63) / 64;
    const u64* m = mask + image * nms_mask_words(words);
    u64* gone = removed + image * words;
    for (int w = threadIdx.x; w < used; w += blockDim.x) gone[w] = 0;
    if (threadIdx.x == 0) keptShared = 0;
    __syncthreads();
    for (int block = 0; block < used; block++) {
        int first = block * 64, rows = min(64, n - first);
        for (int k = threadIdx.x; k < rows; k += blockDim.x) diagonal[k] = m[nms_mask_at(first + k, block, words)];
        __syncthreads();
        if (threadIdx.x == 0) {
            u64 suppressed = gone[block], bits = 0;
            int kept = keptShared;
            for (int k = 0; k < rows && kept < limit; k++) {
                if ((suppressed >> k) & 1ull) continue;
                bits |= 1ull << k;
                suppressed |= diagonal[k];
                keptSlots[image * limit + kept++] = order[image * perImage + first + k];
            }
            keptBits = bits;
            keptShared = kept;
        }
        __syncthreads();
        if (keptShared >= limit) break;
        u64 bits = keptBits;
        for (int w = block + 1 + threadIdx.x; w < used; w += blockDim.x) {
            u64 any = 0;
            for (u64 left = bits; left; left &= left - 1) any |= m[nms_mask_at(first + __ffsll((long long)left) - 1, w, words)];
            gone[w] |= any;
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) keptCounts[image] = keptShared;
}

// The kept candidates' boxes (as they were, before any offset), limit per image; zero
// past the count.
extern "C" __global__ void mgpr_det_gather_boxes(const float* boxes, const int* keptSlots, const int* keptCounts,
                                                 int perImage, int limit, float* out, long long count) {
    GRID_STRIDE(i, count) {
        long long image = i / limit;
        int j = (int)(i % limit);
        for (int c = 0; c < 4; c++)
            out[i * 4 + c] = j < keptCounts[image] ? boxes[(image * perImage + keptSlots[i]) * 4 + c] : 0.f;
    }
}

// MultiScaleRoIAlign (7 x 7, sampling ratio 2, aligned=False) of rows `first`... of the
// proposals ([images, rowsPerImage, 4], counts per image) into out (NCHW float32, 0 for
// rows past an image's count). The level by the box's size; the levels' maps (NCHW
// float32), heights and widths, and scales in `levels`, `sizes` and `scales`.
extern "C" __global__ void mgpr_det_roi_align(const u64* levels, const int* sizes, const float* scales, int channels,
                                              const float* proposals, const int* counts, int rowsPerImage, long long first,
                                              float* out, long long count) {
    GRID_STRIDE(i, count) {
        int bin = (int)(i % 49);
        long long rest = i / 49;
        int c = (int)(rest % channels);
        long long row = first + rest / channels;
        long long image = row / rowsPerImage;
        if (row % rowsPerImage >= counts[image]) { out[i] = 0.f; continue; }
        const float* box = proposals + row * 4;
        float area = (box[2] - box[0]) * (box[3] - box[1]);
        float k = floorf(4.f + log2_f(sqrtf(area) / 224.f) + 1e-6f);
        int level = (int)fminf(fmaxf(k, 2.f), 5.f) - 2;
        int height = sizes[2 * level], width = sizes[2 * level + 1];
        float scale = scales[level];
        const float* map = (const float*)levels[level] + (image * channels + c) * (long long)height * width;
        float startW = box[0] * scale, startH = box[1] * scale;
        float roiW = fmaxf(box[2] * scale - startW, 1.f), roiH = fmaxf(box[3] * scale - startH, 1.f);
        float binH = roiH / 7.f, binW = roiW / 7.f;
        int ph = bin / 7, pw = bin % 7;
        float sum = 0.f;
        for (int iy = 0; iy < 2; iy++) {
            float y = startH + (float)ph * binH + ((float)iy + 0.5f) * binH / 2.f;
            for (int ix = 0; ix < 2; ix++) {
                float x = startW + (float)pw * binW + ((float)ix + 0.5f) * binW / 2.f;
                if (y < -1.f || y > (float)height || x < -1.f || x > (float)width) continue;
                float yy = fmaxf(y, 0.f), xx = fmaxf(x, 0.f);
                int yLow = (int)yy, xLow = (int)xx, yHigh, xHigh;
                if (yLow >= height - 1) { yLow = height - 1; yHigh = yLow; yy = (float)yLow; } else { yHigh = yLow + 1; }
                if (xLow >= width - 1) { xLow = width - 1; xHigh = xLow; xx = (float)xLow; } else { xHigh = xLow + 1; }
                float ly = yy - (float)yLow, lx = xx - (float)xLow, hy = 1.f - ly, hx = 1.f - lx;
                sum += hy * hx * map[yLow * width + xLow] + hy * lx * map[yLow * width + xHigh] +
                       ly * hx * map[yHigh * width + xLow] + ly * lx * map[yHigh * width + xHigh];
            }
        }
        out[i] = sum / 4.f;
    }
}

// torchvision's postprocess_detections for rows `first`... : softmax over the classes,
// each foreground class's box decoded (weights 10, 10, 5, 5) on the proposal and
// clipped, kept when its score passes the threshold and both sides are at least 1e-2.
// At most perRow per row (no more can pass: their scores sum to at most 1); a row
// that had more raises `overflow`.
extern "C" __global__ void mgpr_det_box_candidates(const float* logits, const float* regression, const float* proposals,
                                                   const int* counts, int rowsPerImage, long long first, int classes,
                                                   int perRow, float threshold, float width, float height, float clip,
                                                   float* boxes, float* scores, int* labels, int* valid, int* overflow,
                                                   long long count) {
    GRID_STRIDE(local, count) {
        long long row = first + local;
        long long image = row / rowsPerImage;
        int slot = 0;
        if (row % rowsPerImage < counts[image]) {
            const float* l = logits + local * classes;
            float top = l[0];
            for (int j = 1; j < classes; j++) top = fmaxf(top, l[j]);
            float sum = 0.f;
            for (int j = 0; j < classes; j++) sum += exp_f(l[j] - top);
            for (int label = 1; label < classes; label++) {
                float score = exp_f(l[label] - top) / sum;
                if (!(score > threshold)) continue;
                const float* r = regression + (local * classes + label) * 4;
                float box[4];
                decode(r[0], r[1], r[2], r[3], proposals + row * 4, 10.f, 10.f, 5.f, 5.f, clip, width, height, box);
                if (!(box[2] - box[0] >= 1e-2f && box[3] - box[1] >= 1e-2f)) continue;
                if (slot == perRow) { atomicAdd(overflow, 1); break; }
                long long at = row * perRow + slot;
                for (int c = 0; c < 4; c++) boxes[at * 4 + c] = box[c];
                scores[at] = score;
                labels[at] = label;
                valid[at] = 1;
                slot++;
            }
        }
        for (; slot < perRow; slot++) valid[row * perRow + slot] = 0;
    }
}

// The detections: per image its count, then limit x (x1, y1, x2, y2, score, label)
// with the boxes scaled from the resized image back to the tile.
extern "C" __global__ void mgpr_det_gather(const float* boxes, const float* scores, const int* labels, const int* keptSlots,
                                           const int* keptCounts, int perImage, int limit, float scaleX, float scaleY,
                                           float* out, long long count) {
    GRID_STRIDE(i, count) {
        long long image = i / limit;
        int j = (int)(i % limit);
        float* o = out + image * (1 + 6 * limit);
        if (j == 0) o[0] = (float)keptCounts[image];
        if (j >= keptCounts[image]) continue;
        long long at = image * perImage + keptSlots[i];
        const float* b = boxes + at * 4;
        float* d = o + 1 + 6 * j;
        d[0] = b[0] * scaleX; d[1] = b[1] * scaleY; d[2] = b[2] * scaleX; d[3] = b[3] * scaleY;
        d[4] = scores[at];
        d[5] = (float)labels[at];
    }
}

// RetinaNet's class scores of one level ([n, anchors * classes, plane] logits) as keys
// in torchvision's flattened order ((location * anchors + anchor) * classes + class),
// only those whose sigmoid score is above the threshold: each image's, in no
// particular order, from the front of its `length` slots of `keys`, their number in
// `counts` (zeroed before). A block per chunk of CLASS_KEYS_CHUNK scores of one image;
// the chunk's keys are made in shared memory, then one atomic per block reserves their
// place. With most scores below the threshold (a trained model), the selection after
// reads only the few above it.
#define CLASS_KEYS_CHUNK 2048
extern "C" __global__ void mgpr_det_class_keys(const float* logits, u64* keys, int anchors, int classes, long long plane,
                                               float threshold, int chunks, u64* counts) {
    __shared__ u64 local[CLASS_KEYS_CHUNK];
    __shared__ unsigned int present, cursor;
    __shared__ u64 base;
    long long perImage = (long long)anchors * classes * plane, image = blockIdx.x / chunks;
    long long begin = (long long)(blockIdx.x % chunks) * CLASS_KEYS_CHUNK, end = min(perImage, begin + CLASS_KEYS_CHUNK);
    if (threadIdx.x == 0) { present = 0; cursor = 0; }
    __syncthreads();
    unsigned int mine = 0;
    for (long long j = begin + threadIdx.x; j < end; j += blockDim.x) {
        long long p = j / ((long long)anchors * classes);
        int channel = (int)(j % ((long long)anchors * classes));
        float score = 1.f / (1.f + exp_f(-logits[image * perImage + channel * plane + p]));
        u64 key = score > threshold ? rank_key(score, (unsigned int)j) : NO_KEY;
        local[j - begin] = key;
        if (key != NO_KEY) mine++;
    }
    if (mine) atomicAdd(&present, mine);
    __syncthreads();
    if (threadIdx.x == 0 && present) base = atomicAdd(&counts[image], (u64)present);
    __syncthreads();
    for (long long j = begin + threadIdx.x; j < end; j += blockDim.x) {
        u64 key = local[j - begin];
        if (key != NO_KEY) keys[image * perImage + base + atomicAdd(&cursor, 1u)] = key;
    }
}

// RetinaNet's candidates of one level: each selected score's box decoded (weights 1) on
// its anchor and clipped, grouped by its class; slots past those selected invalid.
// Written at firstSlot + rank of the image's perImage slots.
extern "C" __global__ void mgpr_det_class_decode(const u64* selected, int k, const float* logits, const float* regression,
                                                 int anchors, int classes, int featureWidth, long long plane, float strideX,
                                                 float strideY, const float* cell, int perImage, int firstSlot, float width,
                                                 float height, float clip, float* boxes, float* scores, int* groups,
                                                 int* valid, long long count) {
    GRID_STRIDE(i, count) {
        long long image = i / k;
        int rank = (int)(i % k);
        long long slot = image * perImage + firstSlot + rank;
        u64 key = selected[i];
        if (key == NO_KEY) { valid[slot] = 0; continue; }
        unsigned int j = (unsigned int)(key & 0xFFFFFFFFull);
        int label = (int)(j % classes);
        long long anchorIndex = j / classes, p = anchorIndex / anchors;
        int a = (int)(anchorIndex % anchors);
        float logit = logits[(image * anchors * classes + (long long)a * classes + label) * plane + p];
        decode_on_anchor(regression + (image * 4 * anchors + 4 * a) * plane + p, plane, cell, a, p, featureWidth, strideX,
                         strideY, clip, width, height, boxes + slot * 4);
        valid[slot] = 1;
        scores[slot] = 1.f / (1.f + exp_f(-logit));
        groups[slot] = label;
    }
}
"""#
}
