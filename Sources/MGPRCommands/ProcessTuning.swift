internal import CMalloc

/// Process-wide settings made once at start.
enum ProcessTuning {
    /// GDAL decodes each raster block into a fresh few-MB allocation and frees it when
    /// its cache evicts the block. glibc serves such sizes with mmap/munmap, so every
    /// block costs page faults and zeroing; raising the thresholds keeps them on the
    /// heap, where freed blocks are reused (10-25% more tiles/s measured on 1024 px
    /// DEFLATE tiles). Batch buffers (hundreds of MB) stay mmap'd: they are pooled.
    static func apply() {
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 256 << 20)
    }

    /// Hands the heap's free pages back to the system. Freed allocations under the mmap
    /// threshold stay with the process, whatever their total, and count in its memory
    /// until reused: after a large release (the weights' tensors) this gives them back.
    static func returnFreedMemory() {
        _ = malloc_trim(0)
    }
}
