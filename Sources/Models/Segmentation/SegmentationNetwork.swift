import Engine
import Weights

/// A network that gives every pixel of its input a score per class: a graph whose one
/// output is [batch, classes, height, width] logits at the input's size, read from the
/// weights that describe it.
public protocol SegmentationNetwork: Sendable {
    /// Classes scored per pixel.
    var classes: Int { get }
    /// Bands the network reads.
    var inChannels: Int { get }
    /// Height and width must be multiples of this (U-Net's skips need 32; 1: any size).
    var sizeMultiple: Int { get }
    /// What it is, for logs: "DeepLabV3 (ResNet-50 backbone, 6 classes)".
    var description: String { get }
    /// The graph for one batch shape.
    func graph(batch: Int, height: Int, width: Int) -> Graph
    /// Keys of its weights files that inference does not read (auxiliary heads, counters).
    func isIgnored(_ key: String) -> Bool
}
