import Engine

/// A detection network as a tile model runs it: images in, each image's detections out,
/// boxes in the image's own pixels. One instance per device thread.
public protocol Detector: AnyObject {
    /// Detects objects in the first `count` CHW images of `channels` x `height` x `width`
    /// samples of `images`, held as `pixels` says (floats in [0, 1], or stored samples
    /// the device scales).
    func detect(_ images: HostBuffer, pixels: PixelEncoding, count: Int, channels: Int, height: Int, width: Int) throws -> [[Detection]]
    /// Compiles what batches of `count` images of `height` x `width` need, ahead of the first.
    func prepare(count: Int, height: Int, width: Int, pixels: PixelEncoding) throws
    /// Bytes the plans and buffers hold.
    var memoryBytes: Int { get }
    /// Seconds the last `detect` spent in the transform and the networks; the rest of
    /// its time is the detector's own steps (proposals, decoding, NMS, ...).
    var networkSeconds: Double { get }
    /// Seconds the last `detect` spent copying tiles to the device and results back.
    var copySeconds: Double { get }
}

extension Detector {
    /// Detects objects in [0, 1] float images.
    public func detect(_ images: HostBuffer, count: Int, channels: Int, height: Int, width: Int) throws -> [[Detection]] {
        try detect(images, pixels: .float32, count: count, channels: channels, height: height, width: width)
    }

    public func prepare(count: Int, height: Int, width: Int) throws { try prepare(count: count, height: height, width: width, pixels: .float32) }
}
