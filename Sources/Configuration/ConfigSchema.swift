/// Every key mgpr understands, in the order `--help` and `--cfg job` show them.
/// Defaults are the seed's, so its users' commands and job files keep working.
public enum ConfigSchema {
    public static let keys: [ConfigKey] = [
        // Data
        ConfigKey(
            "use_fake_data", .boolean, .bool(true),
            "read random dummy tiles instead of image_path (switched off when image_path is given and this is not)"),
        ConfigKey("image_path", aliases: ["input_path", "path"], .text, .string("test_image.tiff"),
            "raster to tile: any file GDAL reads (GeoTIFF, COG, PNG, JPEG, VRT); also where mgpr-test-image writes"),
        ConfigKey("tile_size", aliases: ["patch_size"], .integer(min: 1), .int(1024), "side of each square tile, in pixels"),
        ConfigKey("overlap", .integer(min: 0), .int(0), "minimum overlap between neighbouring tiles, in pixels (< tile_size)"),
        ConfigKey("patch_overlap", .optionalFraction, .null,
            "DeepForest's overlap, a fraction of tile_size: overlap becomes floor(tile_size * patch_overlap) pixels"),
        ConfigKey("tiling", .choice(["spread", "stride"]), .string("spread"),
            "spread: the fewest tiles that keep the overlap, spread evenly, the last flush with the edge (the seed's); "
                + "stride: a tile every tile_size - overlap pixels, the last moved back to the edge (DeepForest's windows)"),
        ConfigKey("bands", .integerList(min: 1), .list([.int(1), .int(2), .int(3)]), "raster bands to read, 1-based, in order"),
        ConfigKey("nodata", .choice(["keep", "zero"]), .string("keep"),
            "keep: pixels as stored, as the seed reads them; zero: pixels the dataset mask marks missing "
                + "(alpha, internal mask, or every band at its nodata value) become 0 in every band"),
        ConfigKey("skip_empty", .boolean, .bool(false),
            "leave out tiles whose pixels are all missing (the dataset mask) or all one value in every band, before the model; "
                + "counted in the summary (off: every tile is processed, as the seed does)"),
        ConfigKey("dummy_dataset_count", .integer(min: 1), .int(10000), "number of dummy tiles when use_fake_data is true"),
        ConfigKey("dummy_dataset_delay", .number(min: 0), .double(0.01), "seconds each dummy tile takes to 'load' (simulated I/O)"),
        // Loading
        ConfigKey("batch_size", .integer(min: 1), .int(16), "tiles per batch (the last batch may be shorter)"),
        ConfigKey("workers", .integer(min: 0), .int(8), "reader threads, each with its own file handle (0: read on the device thread)"),
        ConfigKey("prefetch", .integer(min: 1), .int(2), "batches each reader may hold ready ahead of the devices (bounds memory)"),
        ConfigKey("loader_memory_mb", .integer(min: 1), .int(1024),
            "most megabytes of tile batches the readers hold ahead of the devices (at least one batch per device and one more)"),
        // Devices and model
        ConfigKey("accelerator", .choice(["auto", "cpu", "gpu", "cuda"]), .string("auto"), "device kind: auto picks a GPU when one is usable, else the CPU"),
        ConfigKey("gpus", aliases: ["devices"], .integer(min: 1), .int(1), "devices to run on in this process (a number, not device ids)"),
        ConfigKey("precision", .choice(PrecisionName.allCases.map(\.rawValue)), .string("16-mixed"),
            "numeric precision of the model, as in Lightning"),
        ConfigKey("model", .choice(ModelName.allCases.map(\.rawValue)), .string("fasterrcnn"),
            "network run on each tile: " + ModelName.allCases.map { "\($0.rawValue) (\($0.summary))" }.joined(separator: ", ")),
        ConfigKey("preset", .optionalChoice(["deepforest"]), .null,
            "deepforest: DeepForest's predict_tile (model=retinanet, tile_size=400, patch_overlap=0.05, tiling=stride, precision=32, "
                + "tf32=false, score_threshold=0.1, nms_threshold=0.05, merge=mosaic, merge_iou=0.15); keys given explicitly win"),
        ConfigKey("weights", .optionalText, .null,
            "model weights: .safetensors, a torch.save'd state_dict (.pth/.pt, also inside a Lightning .ckpt or a {'model': ...} "
                + "checkpoint), or a Hugging Face folder (config.json + model.safetensors, as DeepForest's); null: seeded, for timing only"),
        ConfigKey("label_names", .optionalNameList, .null,
            "class names by index, e.g. [Tree, Snag], for weights that do not name their classes (given, they win over the weights' own)"),
        ConfigKey("mean", .optionalNumberList(above: -.infinity), .null,
            "segmentation: per-band mean the model was trained with, on pixels scaled to [0, 1] (default: ImageNet's for 3 bands)"),
        ConfigKey("std", .optionalNumberList(above: 0), .null,
            "segmentation: per-band standard deviation, as mean (default: ImageNet's for 3 bands)"),
        ConfigKey("stitch", .choice(["center", "blend"]), .string("center"),
            "segmentation: center: each pixel from the window where it lies farthest from an edge; blend: the windows' "
                + "softmax outputs weighted by a tent falling towards their edges (keeps each window's probabilities in "
                + "run_dir until the gather: 2 bytes per class per pixel, deflated)"),
        ConfigKey("probabilities", .choice(["false", "true", "float"]), .string("false"),
            "segmentation: also write <output>.probabilities.tif, a band per class: true: UInt8, probability x 254 "
                + "(nodata 255); float: Float32 (nodata NaN)"),
        ConfigKey("output", .optionalText, .null,
            "results file: .gpkg, .geojson or .csv for detectors, .csv for resnet50, .tif for segmentation; none: results are not kept "
                + "(default: a file in run_dir)"),
        ConfigKey("score_threshold", aliases: ["score_thresh"], .number(min: 0), .double(0.05),
            "detectors: keep detections scoring above this (torchvision's box_score_thresh / score_thresh)"),
        ConfigKey("nms_threshold", aliases: ["nms_thresh"], .number(min: 0), .double(0.5),
            "detectors: IoU above which a tile's same-class boxes are merged (box_nms_thresh / nms_thresh)"),
        ConfigKey("detections_per_tile", .integer(min: 1), .int(100),
            "detectors: most detections kept per tile (box_detections_per_img; 300 for retinanet, as torchvision)"),
        ConfigKey("min_size", .integer(min: 1), .int(800), "detectors: tiles are resized so their short side is this (torchvision's min_size)"),
        ConfigKey("max_size", .integer(min: 1), .int(1333), "detectors: ... unless their long side would pass this (max_size)"),
        ConfigKey("bn_eps", .number(min: 0), .double(1e-5), COCOWeights.help),
        ConfigKey("images_per_pass", .integer(min: 1), .int(4),
            "detectors: tiles of a batch the network runs on at once; memory grows with it, speed hardly does"),
        ConfigKey("merge", .choice(["seams", "mosaic"]), .string("seams"),
            "detectors: seams: with overlap > 0, same-class boxes from neighbouring tiles overlapping more than merge_iou are one "
                + "object (whole boxes win over boxes cut by a tile edge); mosaic: boxes truncated to whole pixels, then one NMS at "
                + "merge_iou over every box of every tile, all classes together (DeepForest's)"),
        ConfigKey("merge_iou", aliases: ["iou_threshold"], .number(min: 0), .double(0.5),
            "detectors: the IoU of the cross-tile merge (see merge)"),
        ConfigKey("gpu_lanes", .integer(min: 1), .int(2),
            "GPUs: batches in flight on each GPU, each lane with its own plans (GPU memory grows with it), so that one's copies "
                + "and host work overlap another's compute"),
        ConfigKey("tf32", .boolean, .bool(true),
            "GPU, precision=32: convolutions on TF32 tensor cores, as PyTorch does on CUDA by default; false for full float32"),
        ConfigKey("cpu_threads", .integer(min: 0), .int(0), "CPU threads for the model, shared by the CPU devices (0: the cores this process may use)"),
        ConfigKey("seed", .integer(min: 0), .int(42), "seed for dummy tiles, test images and untrained weights"),
        // Run and logging
        ConfigKey("run_dir", .optionalText, .null, "where the run writes config.yaml, summary.json, metrics.csv (default outputs/YYYY-MM-DD/HH-MM-SS)"),
        ConfigKey("resume", .boolean, .bool(false),
            "continue the run in run_dir (without run_dir: the newest run under outputs/ with the same work), skipping tiles "
                + "its journal lists (automatic when SLURM requeues a job)"),
        ConfigKey("overwrite", .boolean, .bool(false),
            "replace an existing results file (output), or start again in a run_dir that holds a run; without it mgpr refuses both"),
        ConfigKey("gather_timeout", .number(min: 1), .double(600),
            "seconds rank 0 waits for a rank that shows no sign of life before naming it as lost"),
        ConfigKey("share", .optionalChoice(["static", "claim"]), .null,
            "how ranks divide the tiles: claim: each claims chunks from run_dir as it goes, so a slow or late rank holds "
                + "nobody up; static: a fixed block each (default: claim for several ranks; a resume keeps its run's)"),
        ConfigKey("claim_lease", .number(min: 1), .double(60),
            "share=claim: seconds a rank's claims outlive its last sign of life before other ranks take them over"),
        ConfigKey("log_interval", .integer(min: 1), .int(10), "batches between progress lines when stderr is not a terminal"),
        ConfigKey("log_interval_s", .number(min: 0), .double(60),
            "also a progress line (tiles/s, ETA) every this many seconds without one, when stderr is not a terminal (0: off)"),
        ConfigKey("profiler", .optionalChoice(["simple"]), .null, "simple: print where the time went (read, wait, compute) at the end"),
        // mgpr-test-image
        ConfigKey("image_size", .integer(min: 1), .int(10000), "mgpr-test-image: side of the square test image, in pixels"),
        ConfigKey("test_image_crs", .text, .string("EPSG:32617"), "mgpr-test-image: CRS of the test image (any GDAL CRS: EPSG:n, WKT, PROJ)"),
        ConfigKey("test_image_origin", .numberPair, .list([.double(400000), .double(3_300_000)]),
            "mgpr-test-image: map coordinates [x, y] of the top-left corner"),
        ConfigKey("test_image_pixel_size", .number(min: 0), .double(0.1), "mgpr-test-image: pixel size in CRS units"),
    ]

    /// The keys mgpr-test-image reads; the rest are mgpr's.
    public static let testImageKeyNames: Set<String> = [
        "image_path", "image_size", "tile_size", "seed", "test_image_crs", "test_image_origin", "test_image_pixel_size",
    ]

    /// The keys a run reads (all but mgpr-test-image's own).
    public static var runKeys: [ConfigKey] { keys.filter { !$0.name.hasPrefix("test_image_") && $0.name != "image_size" } }

    public static var testImageKeys: [ConfigKey] { keys.filter { testImageKeyNames.contains($0.name) } }

    /// The keys `mgpr merge` reads.
    public static var mergeKeys: [ConfigKey] { keys.filter { ["run_dir", "output", "gather_timeout"].contains($0.name) } }

    /// The key named `name` or one of its aliases.
    public static func key(named name: String) -> ConfigKey? {
        keys.first { $0.name == name || $0.aliases.contains(name) }
    }

    /// The closest key name, for "did you mean" (edit distance at most a third of the name).
    /// Of equally close names the one sharing the longest start wins: `iou_thresh` is
    /// DeepForest's `iou_threshold` (merge_iou), not `nms_thresh`, which means another thing.
    public static func suggestion(for name: String) -> String? {
        let candidates = keys.flatMap { [$0.name] + $0.aliases }
        func sharedStart(_ a: String) -> Int { zip(a, name).prefix { $0 == $1 }.count }
        let scored = candidates.map { ($0, editDistance($0, name), sharedStart($0)) }.min { ($0.1, -$0.2) < ($1.1, -$1.2) }
        guard let (best, distance, _) = scored, distance <= max(2, name.count / 3) else { return nil }
        return best
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
}
