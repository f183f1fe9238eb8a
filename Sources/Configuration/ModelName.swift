/// The networks mgpr runs (`model=`), with what the configuration and the results
/// need to know of each: the one place a model's defaults and outputs are stated.
/// Building a model from its weights lives beside the commands, one file per model.
public enum ModelName: String, Sendable, CaseIterable {
    case fasterrcnn, retinanet, resnet50, deeplabv3, fcn, unet, none

    public enum Task: Sendable { case detection, classification, segmentation, dataPathOnly }

    public var task: Task {
        switch self {
        case .fasterrcnn, .retinanet: .detection
        case .resnet50: .classification
        case .deeplabv3, .fcn, .unet: .segmentation
        case .none: .dataPathOnly
        }
    }

    /// What `--help` says of it.
    public var summary: String {
        switch self {
        case .fasterrcnn: "torchvision's fasterrcnn_resnet50_fpn (boxes)"
        case .retinanet: "torchvision's retinanet_resnet50_fpn or _v2, as DeepForest's tree and bird models (boxes)"
        case .resnet50: "a class per tile"
        case .deeplabv3: "torchvision's deeplabv3_resnet50/101 (a class per pixel)"
        case .fcn: "torchvision's fcn_resnet50/101 (a class per pixel)"
        case .unet: "segmentation_models_pytorch's Unet with a ResNet encoder, any bands (a class per pixel)"
        case .none: "the data path alone"
        }
    }

    /// Keys whose default differs for this model, as torchvision's own defaults differ.
    public var defaults: [String: ConfigValue] {
        switch self {
        case .retinanet: ["detections_per_tile": .int(300)]
        default: [:]
        }
    }

    /// The results file written into the run directory when `output` is not given.
    public var defaultOutput: String? {
        switch task {
        case .detection: "detections.gpkg"
        case .classification: "classes.csv"
        case .segmentation: "classes.tif"
        case .dataPathOnly: nil
        }
    }

    /// The extensions of the results files it writes, and how to say so.
    public var outputFormats: (extensions: [String], description: String) {
        switch task {
        case .detection: ([".gpkg", ".geojson", ".json", ".csv"], "\(rawValue) writes .gpkg, .geojson or .csv")
        case .classification: ([".csv"], "\(rawValue) writes a .csv (one row per tile)")
        case .segmentation: ([".tif", ".tiff"], "\(rawValue) writes a class raster: a .tif (a Cloud-Optimised GeoTIFF)")
        case .dataPathOnly: ([], "model=none computes no results; choose a model")
        }
    }
}

/// `precision=`, as Lightning names it, and what mgpr computes in for it.
public enum PrecisionName: String, Sendable, CaseIterable {
    case f16Mixed = "16-mixed", bf16Mixed = "bf16-mixed", f32 = "32", f32True = "32-true", f16True = "16-true"
    case bf16True = "bf16-true", f64 = "64", f64True = "64-true"

    /// The bits of the numbers a model computes in: 32, or 16 (float16 or bfloat16).
    public enum Compute: Sendable { case f32, f16, bf16 }

    /// nil for 64-bit, which mgpr does not compute in.
    public var compute: Compute? {
        switch self {
        case .f32, .f32True: .f32
        case .f16Mixed, .f16True: .f16
        case .bf16Mixed, .bf16True: .bf16
        case .f64, .f64True: nil
        }
    }
}
