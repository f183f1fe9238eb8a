import CUDA
import Engine

/// The CUDA C kernels that cuDNN has no call for, compiled by NVRTC once per element
/// type. Activations are NHWC; each kernel loads and stores through `load`/`store`, so
/// one source serves float32, float16 and bfloat16 (compute is always float32). No
/// header is included: 16-bit values are converted with PTX `cvt`, so NVRTC needs no
/// CUDA include folder.
enum Kernels {
    static let names = ["mgpr_input", "mgpr_bias_act", "mgpr_upsample_nearest", "mgpr_output", "mgpr_group_norm",
                        "mgpr_resize_bilinear", "mgpr_copy_channels"]

    /// The compile options that pick the element type.
    static func options(for type: ElementType) -> [String] {
        switch type {
        case .f32: ["-DMGPR_F32"]
        case .f16: ["-DMGPR_F16"]
        case .bf16: ["-DMGPR_BF16"]
        }
    }

    /// A loop over `count` elements by every thread of the grid (grids are sized to fill
    /// the GPU, not the data).
    static let gridStride = #"""
#define GRID_STRIDE(i, count) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (count); i += (long long)gridDim.x * blockDim.x)

"""#

    static let source = gridStride + #"""
#if defined(MGPR_F16)
typedef unsigned short T;
__device__ __forceinline__ float load(T v) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v)); return f; }
__device__ __forceinline__ T store(float f) { T v; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(v) : "f"(f)); return v; }
#elif defined(MGPR_BF16)
typedef unsigned short T;
__device__ __forceinline__ float load(T v) { return __uint_as_float(((unsigned int)v) << 16); }
__device__ __forceinline__ T store(float f) { T v; asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(v) : "f"(f)); return v; }
#else
typedef float T;
__device__ __forceinline__ float load(T v) { return v; }
__device__ __forceinline__ T store(float f) { return f; }
#endif


// The batch as the host sent it (NCHW float32 pixels) to the first value (NHWC, T),
// normalised per channel on the way when scale is given. The value may have more
// channels than the batch (padded to a multiple of 8 for the tensor cores): those are 0.
extern "C" __global__ void mgpr_input(const float* src, T* dst, const float* scale, const float* shift,
                                      int channels, int paddedChannels, long long plane, long long count) {
    GRID_STRIDE(i, count) {
        int c = (int)(i % paddedChannels);
        long long pixel = i / paddedChannels;
        long long image = pixel / plane, p = pixel % plane;
        float v = 0.f;
        if (c < channels) {
            v = src[(image * channels + c) * plane + p];
            if (scale) v = v * scale[c] + shift[c];
        }
        dst[i] = store(v);
    }
}

// After a convolution: add the bias (BatchNorm folded into it) and apply ReLU, in place.
// A residual, when there is one, was already summed by the convolution (beta = 1).
extern "C" __global__ void mgpr_bias_act(T* y, const float* bias, int channels, int relu, long long count) {
    GRID_STRIDE(i, count) {
        float v = load(y[i]) + bias[i % channels];
        y[i] = store(relu ? fmaxf(v, 0.f) : v);
    }
}

// Nearest-neighbour upsampling by an integer factor (FPN's top-down path).
extern "C" __global__ void mgpr_upsample_nearest(const T* src, T* dst, int height, int width, int channels,
                                                 int factor, long long count) {
    GRID_STRIDE(i, count) {
        int c = (int)(i % channels);
        long long pixel = i / channels;
        int outWidth = width * factor, outHeight = height * factor;
        int x = (int)(pixel % outWidth);
        long long rest = pixel / outWidth;
        int y = (int)(rest % outHeight);
        long long image = rest / outHeight;
        dst[i] = src[((image * height + y / factor) * width + x / factor) * channels + c];
    }
}

// Bilinear resizing as PyTorch's upsample_bilinear2d for F.interpolate(size=...):
// source index scale * (i + 0.5) - 0.5 clamped at 0, or scale * i with align_corners.
extern "C" __global__ void mgpr_resize_bilinear(const T* src, T* dst, int height, int width, int outHeight,
                                                int outWidth, int channels, int alignCorners, long long count) {
    float sy = alignCorners ? (outHeight > 1 ? (float)(height - 1) / (outHeight - 1) : 0.f) : (float)height / outHeight;
    float sx = alignCorners ? (outWidth > 1 ? (float)(width - 1) / (outWidth - 1) : 0.f) : (float)width / outWidth;
    GRID_STRIDE(i, count) {
        int c = (int)(i % channels);
        long long pixel = i / channels;
        int x = (int)(pixel % outWidth);
        long long rest = pixel / outWidth;
        int y = (int)(rest % outHeight);
        long long image = rest / outHeight;
        float fy = alignCorners ? sy * y : fmaxf(sy * (y + 0.5f) - 0.5f, 0.f);
        float fx = alignCorners ? sx * x : fmaxf(sx * (x + 0.5f) - 0.5f, 0.f);
        int y0 = min((int)fy, height - 1), x0 = min((int)fx, width - 1);
        int y1 = y0 < height - 1 ? y0 + 1 : y0, x1 = x0 < width - 1 ? x0 + 1 : x0;
        float wy = fy - y0, wx = fx - x0;
        const T* base = src + image * height * width * channels + c;
        float upper = (1.f - wx) * load(base[(y0 * width + x0) * channels]) + wx * load(base[(y0 * width + x1) * channels]);
        float lower = (1.f - wx) * load(base[(y1 * width + x0) * channels]) + wx * load(base[(y1 * width + x1) * channels]);
        dst[i] = store((1.f - wy) * upper + wy * lower);
    }
}

// One input of a concatenation (NHWC) into its channels first..first+channels of dst.
extern "C" __global__ void mgpr_copy_channels(const T* src, T* dst, int channels, int dstChannels, int first,
                                              long long count) {
    GRID_STRIDE(i, count) {
        long long pixel = i / channels;
        dst[pixel * dstChannels + first + (int)(i % channels)] = src[i];
    }
}

// A graph output (NHWC, T) to what the host reads (NCHW float32).
extern "C" __global__ void mgpr_output(const T* src, float* dst, int channels, long long plane, long long count) {
    GRID_STRIDE(i, count) {
        long long p = i % plane, rest = i / plane;
        int c = (int)(rest % channels);
        long long image = rest / channels;
        dst[i] = load(src[(image * plane + p) * channels + c]);
    }
}

// GroupNorm: one block per (image, group). The mean first, then the squared deviations
// (two passes, in double: features can have a large mean), then the affine and ReLU.
extern "C" __global__ void mgpr_group_norm(const T* src, T* dst, const float* gamma, const float* beta,
                                           long long plane, int channels, int groups, float eps, int relu) {
    __shared__ double partial[256];
    int image = blockIdx.x / groups, group = blockIdx.x % groups;
    int perGroup = channels / groups;
    long long count = plane * perGroup;
    const T* base = src + image * plane * channels + group * perGroup;
    T* out = dst + image * plane * channels + group * perGroup;

    double sum = 0;
    for (long long k = threadIdx.x; k < count; k += blockDim.x)
        sum += load(base[(k / perGroup) * channels + k % perGroup]);
    partial[threadIdx.x] = sum;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
        __syncthreads();
    }
    double mean = partial[0] / count;
    __syncthreads();

    double squares = 0;
    for (long long k = threadIdx.x; k < count; k += blockDim.x) {
        double d = load(base[(k / perGroup) * channels + k % perGroup]) - mean;
        squares += d * d;
    }
    partial[threadIdx.x] = squares;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
        __syncthreads();
    }
    float inverse = (float)(1.0 / sqrt(partial[0] / count + (double)eps));

    for (long long k = threadIdx.x; k < count; k += blockDim.x) {
        long long at = (k / perGroup) * channels + k % perGroup;
        int c = group * perGroup + (int)(k % perGroup);
        float v = (float)(load(base[at]) - mean) * inverse * gamma[c] + beta[c];
        out[at] = store(relu ? fmaxf(v, 0.f) : v);
    }
}
"""#
}
