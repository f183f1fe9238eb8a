import CUDA
import Engine
import Foundation
import Models
import Weights

/// torchvision's fasterrcnn_resnet50_fpn (v1) wholly on one GPU: the transform, backbone,
/// FPN and RPN head, anchors, top-k, NMS, MultiScaleRoIAlign, the box head and the
/// post-processing all run there, and only each tile's final detections come back.
/// Each pass (images, tile size, precision) has fixed shapes, so it is captured once as
/// a CUDA graph and replayed (`MGPR_CUDA_GRAPHS=0` runs it step by step instead).
/// The same results as ``FasterRCNN`` on the CPU, within float rounding.
public final class CUDAFasterRCNN: Detector {
    public let settings: DetectorSettings
    public let classes: Int
    private let backend: CUDABackend
    private let weights: WeightStore
    private let precision: Precision
    private var passes: [PlanKey: DetectorPass] = [:]
    public private(set) var networkSeconds = 0.0
    public private(set) var copySeconds = 0.0

    public init(backend: CUDABackend, weights: WeightStore, precision: Precision, classes: Int, settings: DetectorSettings) {
        self.backend = backend
        self.weights = weights
        self.precision = precision
        self.classes = classes
        self.settings = settings
    }

    public var memoryBytes: Int { passes.values.reduce(0) { $0 + $1.memoryBytes } }

    public func prepare(count: Int, height: Int, width: Int) throws {
        let step = max(1, settings.imagesPerPass)
        for images in Set([min(count, step), count % step]) where images > 0 {
            _ = try pass(images: images, height: height, width: width)
        }
    }

    public func detect(_ images: UnsafePointer<Float>, count: Int, channels: Int, height: Int, width: Int) throws -> [[Detection]] {
        precondition(channels == 3, "the detector takes RGB tiles")
        let step = max(1, settings.imagesPerPass), plane = channels * height * width
        var results: [[Detection]] = []
        results.reserveCapacity(count)
        (networkSeconds, copySeconds) = (0, 0)
        for first in stride(from: 0, to: count, by: step) {
            let pass = try pass(images: min(step, count - first), height: height, width: width)
            results += try pass.run(images + first * plane)
            networkSeconds += pass.times.network
            copySeconds += pass.times.copy
        }
        return results
    }

    private func pass(images: Int, height: Int, width: Int) throws -> DetectorPass {
        let key = PlanKey(input: Shape4(n: images, c: 3, h: height, w: width), precision: precision)
        if let pass = passes[key] { return pass }
        let pass = try DetectorPass(
            backend: backend, weights: weights, precision: precision, classes: classes, settings: settings,
            images: images, height: height, width: width)
        passes[key] = pass
        return pass
    }
}
