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

    /// The names of the 91 labels these detectors predict, by index: COCO's 80 categories
    /// at their COCO ids, "__background__" at 0 and "N/A" at the ids COCO left unused,
    /// as torchvision names them (the weights' metadata). Runs with these weights write
    /// names (`person`, `car`), not indices.
    public static let categories: [String] = {
        var names = Array(repeating: "N/A", count: 91)
        names[0] = "__background__"
        for (id, name) in zip((1...90).filter { !unusedIDs.contains($0) }, cocoNames) { names[id] = name }
        return names
    }()

    /// COCO's category ids with no category.
    static let unusedIDs: Set = [12, 26, 29, 30, 45, 66, 68, 69, 71, 83]

    /// COCO's 80 categories in id order.
    static let cocoNames = [
        "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
        "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
        "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
        "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
        "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
        "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed",
        "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven",
        "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
    ]
}
