/// torchvision's own COCO-trained detector weights, known by the hash their file names
/// carry. torchvision runs them with frozen BatchNorm eps 0 (not 1e-5), and so does mgpr:
/// `bn_eps` defaults to 0 for them (`--cfg job` shows it), and the run says why.
public enum COCOWeights {
    /// File-name hash: the torchvision model it is the weights of.
    public static let digests = ["258fb6c6": "fasterrcnn_resnet50_fpn", "eeacb38b": "retinanet_resnet50_fpn"]

    /// Whether `path` names one of these files.
    public static func contains(_ path: String) -> Bool { digests.keys.contains { path.contains($0) } }

    /// What `--help` says of `bn_eps`.
    public static let help =
        "detectors: frozen BatchNorm eps; torchvision's COCO weights (file names with "
        + digests.keys.sorted().joined(separator: " or ") + ") use 0, and mgpr uses 0 for them"

    /// The run's log line when `bn_eps` came from this rule.
    public static func notice(weights path: String) -> String {
        "weights \(path) are torchvision's COCO file: frozen BatchNorm eps 0, as torchvision runs them (set bn_eps to override)"
    }
}
