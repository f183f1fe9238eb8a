import Engine
import Foundation

/// torchvision's AnchorGenerator for the FPN detector: one size per level (32...512),
/// aspect ratios 0.5, 1, 2, centred on each feature cell.
public enum Anchors {
    public static let sizes: [Float] = [32, 64, 128, 256, 512]
    public static let aspectRatios: [Float] = [0.5, 1, 2]

    /// The base anchors of a level's sizes, ratio-major (each aspect ratio, then each
    /// size, as torchvision orders them), rounded half to even as torch.round does.
    public static func cell(sizes: [Float]) -> [Box] {
        aspectRatios.flatMap { ratio in
            let hRatio = ratio.squareRoot(), wRatio = 1 / hRatio
            return sizes.map { size in
                let w = wRatio * size, h = hRatio * size
                return Box(
                    (-w / 2).rounded(.toNearestOrEven), (-h / 2).rounded(.toNearestOrEven),
                    (w / 2).rounded(.toNearestOrEven), (h / 2).rounded(.toNearestOrEven))
            }
        }
    }

    static func cell(size: Float) -> [Box] { cell(sizes: [size]) }

    /// RetinaNet's sizes per level: 32...512 at scales 2^0, 2^(1/3), 2^(2/3), truncated
    /// to integers as torchvision's `_default_anchorgen` writes them (32, 40, 50, ...).
    public static let retinaNetSizes: [[Float]] = [32, 64, 128, 256, 512].map { x in
        [x, Float(Int(Double(x) * pow(2, 1.0 / 3))), Float(Int(Double(x) * pow(2, 2.0 / 3)))]
    }

    /// Anchors of one level, location-major (row, column) then anchor, as the RPN's
    /// outputs are flattened. The stride is the image size over the feature size (integer).
    public static func level(
        _ level: Int, featureHeight: Int, featureWidth: Int, imageHeight: Int, imageWidth: Int
    ) -> [Box] {
        let strideY = Float(imageHeight / featureHeight), strideX = Float(imageWidth / featureWidth)
        let base = cell(size: sizes[level])
        var anchors: [Box] = []
        anchors.reserveCapacity(featureHeight * featureWidth * base.count)
        for y in 0..<featureHeight {
            for x in 0..<featureWidth {
                let sx = Float(x) * strideX, sy = Float(y) * strideY
                for b in base { anchors.append(Box(b.x1 + sx, b.y1 + sy, b.x2 + sx, b.y2 + sy)) }
            }
        }
        return anchors
    }
}
